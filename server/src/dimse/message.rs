//! DIMSE command sets (PS3.7 chapter 9/E): always Implicit VR Little Endian, group 0000.
//! dicom-ul moves PDUs; this module encodes and decodes the commands they carry.

use std::collections::BTreeMap;

pub const C_STORE_RQ: u16 = 0x0001;
pub const C_STORE_RSP: u16 = 0x8001;
pub const C_GET_RQ: u16 = 0x0010;
pub const C_GET_RSP: u16 = 0x8010;
pub const C_FIND_RQ: u16 = 0x0020;
pub const C_FIND_RSP: u16 = 0x8020;
pub const C_MOVE_RQ: u16 = 0x0021;
pub const C_MOVE_RSP: u16 = 0x8021;
pub const C_ECHO_RQ: u16 = 0x0030;
pub const C_ECHO_RSP: u16 = 0x8030;
pub const C_CANCEL_RQ: u16 = 0x0FFF;

pub const NO_DATA_SET: u16 = 0x0101;

// Elements of the command group.
pub const AFFECTED_SOP_CLASS_UID: u16 = 0x0002;
pub const COMMAND_FIELD: u16 = 0x0100;
pub const MESSAGE_ID: u16 = 0x0110;
pub const MESSAGE_ID_BEING_RESPONDED_TO: u16 = 0x0120;
pub const MOVE_DESTINATION: u16 = 0x0600;
pub const PRIORITY: u16 = 0x0700;
pub const COMMAND_DATA_SET_TYPE: u16 = 0x0800;
pub const STATUS: u16 = 0x0900;
pub const ERROR_COMMENT: u16 = 0x0902;
pub const AFFECTED_SOP_INSTANCE_UID: u16 = 0x1000;
pub const REMAINING: u16 = 0x1020;
pub const COMPLETED: u16 = 0x1021;
pub const FAILED: u16 = 0x1022;
pub const WARNING: u16 = 0x1023;
pub const MOVE_ORIGINATOR_AE: u16 = 0x1030;
pub const MOVE_ORIGINATOR_MESSAGE_ID: u16 = 0x1031;

/// Status codes used here (PS3.4 Annex B/C, PS3.7 C).
#[allow(dead_code)] // the full set of codes this layer may answer with
pub mod status {
    pub const SUCCESS: u16 = 0x0000;
    pub const PENDING: u16 = 0xFF00;
    pub const CANCEL: u16 = 0xFE00;
    pub const WARNING_COERCION: u16 = 0xB000;
    pub const WARNING_SUBOPS: u16 = 0xB000;
    pub const REFUSED_OUT_OF_RESOURCES: u16 = 0xA700;
    pub const FIND_OUT_OF_RESOURCES: u16 = 0xA700;
    pub const MOVE_DESTINATION_UNKNOWN: u16 = 0xA801;
    pub const DATA_SET_MISMATCH: u16 = 0xA900;
    pub const IDENTIFIER_MISMATCH: u16 = 0xA900;
    pub const CANNOT_UNDERSTAND: u16 = 0xC000;
    pub const UNABLE_TO_PROCESS: u16 = 0xC001;
    pub const NOT_AUTHORIZED: u16 = 0x0124;
    pub const PROCESSING_FAILURE: u16 = 0x0110;
    pub const UNRECOGNIZED_OPERATION: u16 = 0x0211;
    pub const SUBOPS_FAILED: u16 = 0xA702;
}

#[derive(Debug, thiserror::Error)]
#[error("malformed DIMSE command: {0}")]
pub struct CommandError(pub String);

/// A decoded command set: element number → raw value bytes.
#[derive(Debug, Clone, Default)]
pub struct Command {
    elems: BTreeMap<u16, Vec<u8>>,
}

impl Command {
    pub fn decode(bytes: &[u8]) -> Result<Self, CommandError> {
        let mut elems = BTreeMap::new();
        let mut i = 0usize;
        while i + 8 <= bytes.len() {
            let group = u16::from_le_bytes([bytes[i], bytes[i + 1]]);
            let elem = u16::from_le_bytes([bytes[i + 2], bytes[i + 3]]);
            let len = u32::from_le_bytes([bytes[i + 4], bytes[i + 5], bytes[i + 6], bytes[i + 7]])
                as usize;
            i += 8;
            if group != 0x0000 {
                return Err(CommandError(format!(
                    "element ({group:04X},{elem:04X}) outside the command group"
                )));
            }
            if len > bytes.len() - i {
                return Err(CommandError("element length runs past the end".into()));
            }
            elems.insert(elem, bytes[i..i + len].to_vec());
            i += len;
        }
        if i != bytes.len() {
            return Err(CommandError("trailing bytes".into()));
        }
        Ok(Self { elems })
    }

    pub fn u16(&self, elem: u16) -> Option<u16> {
        let v = self.elems.get(&elem)?;
        (v.len() >= 2).then(|| u16::from_le_bytes([v[0], v[1]]))
    }

    pub fn str(&self, elem: u16) -> Option<String> {
        let v = self.elems.get(&elem)?;
        Some(
            String::from_utf8_lossy(v)
                .trim_end_matches(['\0', ' '])
                .trim_start()
                .to_string(),
        )
    }

    pub fn command_field(&self) -> Option<u16> {
        self.u16(COMMAND_FIELD)
    }

    pub fn message_id(&self) -> u16 {
        self.u16(MESSAGE_ID).unwrap_or(0)
    }

    pub fn has_data_set(&self) -> bool {
        self.u16(COMMAND_DATA_SET_TYPE)
            .is_some_and(|t| t != NO_DATA_SET)
    }
}

/// Builds a command set; `encode` adds the group length.
#[derive(Debug, Default)]
pub struct CommandBuilder {
    elems: BTreeMap<u16, Vec<u8>>,
}

impl CommandBuilder {
    pub fn new(field: u16) -> Self {
        Self::default().us(COMMAND_FIELD, field)
    }
    /// A US element set earlier (metrics read the command field and status).
    pub fn get_us(&self, elem: u16) -> Option<u16> {
        let b = self.elems.get(&elem)?;
        Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
    }
    pub fn us(mut self, elem: u16, v: u16) -> Self {
        self.elems.insert(elem, v.to_le_bytes().to_vec());
        self
    }
    pub fn uid(mut self, elem: u16, v: &str) -> Self {
        let mut b = v.as_bytes().to_vec();
        if b.len() % 2 == 1 {
            b.push(0);
        }
        self.elems.insert(elem, b);
        self
    }
    pub fn text(mut self, elem: u16, v: &str) -> Self {
        let mut b: Vec<u8> = v
            .bytes()
            .filter(|c| c.is_ascii() && *c != b'\\')
            .take(64)
            .collect();
        if b.len() % 2 == 1 {
            b.push(b' ');
        }
        self.elems.insert(elem, b);
        self
    }
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for (elem, v) in &self.elems {
            body.extend_from_slice(&0u16.to_le_bytes());
            body.extend_from_slice(&elem.to_le_bytes());
            body.extend_from_slice(&(v.len() as u32).to_le_bytes());
            body.extend_from_slice(v);
        }
        let mut out = Vec::with_capacity(body.len() + 12);
        out.extend_from_slice(&[0, 0, 0, 0, b'\x04', 0, 0, 0]);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }
}

/// A response to `rq` with the given field and status.
pub fn response(rq: &Command, field: u16, status: u16, has_data: bool) -> CommandBuilder {
    let mut b = CommandBuilder::new(field)
        .us(MESSAGE_ID_BEING_RESPONDED_TO, rq.message_id())
        .us(
            COMMAND_DATA_SET_TYPE,
            if has_data { 0x0000 } else { NO_DATA_SET },
        )
        .us(STATUS, status);
    if let Some(c) = rq.str(AFFECTED_SOP_CLASS_UID) {
        b = b.uid(AFFECTED_SOP_CLASS_UID, &c);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes = CommandBuilder::new(C_ECHO_RQ)
            .us(MESSAGE_ID, 7)
            .us(COMMAND_DATA_SET_TYPE, NO_DATA_SET)
            .uid(AFFECTED_SOP_CLASS_UID, "1.2.840.10008.1.1")
            .encode();
        let c = Command::decode(&bytes).expect("decodes");
        assert_eq!(c.command_field(), Some(C_ECHO_RQ));
        assert_eq!(c.message_id(), 7);
        assert_eq!(
            c.str(AFFECTED_SOP_CLASS_UID).as_deref(),
            Some("1.2.840.10008.1.1")
        );
        assert!(!c.has_data_set());
        // group length is the first element and counts the rest
        assert_eq!(
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            bytes.len() - 12
        );
    }

    #[test]
    fn truncated_is_an_error() {
        let bytes = CommandBuilder::new(C_ECHO_RQ).us(MESSAGE_ID, 1).encode();
        assert!(Command::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
