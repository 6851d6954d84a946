//! Normalising the Part 10 container of instances that arrive without a standard one.
//!
//! pydicom's `dcmwrite` (as dicomweb-client uses it) writes data sets built in memory as
//! a file meta group without the 128-byte preamble, "DICM", group length or version.
//! The archive stores standard Part 10 files, so such a head is rewritten: a preamble,
//! "DICM" and a complete file meta group with the same values. The data set bytes that
//! follow are never touched.

/// What to do with the first bytes of an incoming file.
#[derive(Debug, PartialEq)]
pub enum Head {
    /// Not enough bytes yet to decide.
    NeedMore,
    /// Standard already (or not DICOM at all: the parser will say so): keep as is.
    Keep,
    /// Replace the first `consumed` bytes by `prefix`.
    Rewrite { prefix: Vec<u8>, consumed: usize },
}

/// Largest file meta group we wait for.
pub const MAX_HEAD: usize = 64 * 1024;

pub fn normalize_head(head: &[u8], complete: bool) -> Head {
    let (start, had_preamble) = if head.len() >= 132 && &head[128..132] == b"DICM" {
        (132, true)
    } else if head.starts_with(b"DICM") {
        (4, false)
    } else if head.starts_with(&[0x02, 0x00]) {
        (0, false)
    } else if head.len() < 132 && !complete {
        return Head::NeedMore;
    } else {
        return Head::Keep;
    };
    // Walk the group 0002 elements (always explicit VR little endian).
    let mut i = start;
    let mut values: Vec<((u16, u16), Vec<u8>)> = Vec::new();
    loop {
        if i + 2 > head.len() {
            return if complete || head.len() >= MAX_HEAD {
                Head::Keep
            } else {
                Head::NeedMore
            };
        }
        if u16::from_le_bytes([head[i], head[i + 1]]) != 0x0002 {
            break;
        }
        if i + 8 > head.len() {
            return if complete || head.len() >= MAX_HEAD {
                Head::Keep
            } else {
                Head::NeedMore
            };
        }
        let elem = u16::from_le_bytes([head[i + 2], head[i + 3]]);
        let vr = [head[i + 4], head[i + 5]];
        let (len, hdr) = if matches!(&vr, b"OB" | b"UN" | b"UT" | b"SQ" | b"OW") {
            if i + 12 > head.len() {
                return if complete || head.len() >= MAX_HEAD {
                    Head::Keep
                } else {
                    Head::NeedMore
                };
            }
            (
                u32::from_le_bytes([head[i + 8], head[i + 9], head[i + 10], head[i + 11]]) as usize,
                12,
            )
        } else {
            (u16::from_le_bytes([head[i + 6], head[i + 7]]) as usize, 8)
        };
        if len == 0xFFFF_FFFF || i + hdr + len > head.len() {
            return if complete || head.len() >= MAX_HEAD {
                Head::Keep
            } else {
                Head::NeedMore
            };
        }
        values.push(((0x0002, elem), head[i + hdr..i + hdr + len].to_vec()));
        i += hdr + len;
    }
    let has = |e: u16| values.iter().any(|((_, x), _)| *x == e);
    if had_preamble && has(0x0000) && has(0x0001) {
        return Head::Keep;
    }
    let text = |e: u16| {
        values.iter().find(|((_, x), _)| *x == e).map(|(_, v)| {
            String::from_utf8_lossy(v)
                .trim_end_matches(['\0', ' '])
                .to_string()
        })
    };
    let (Some(ts), Some(class), Some(inst)) = (text(0x0010), text(0x0002), text(0x0003)) else {
        return Head::Keep; // incomplete meta: let the parser report it
    };
    let mut b = dicom_object::FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid(class)
        .media_storage_sop_instance_uid(inst)
        .implementation_class_uid(
            text(0x0012).unwrap_or_else(|| crate::dimse::IMPLEMENTATION_CLASS_UID.to_string()),
        );
    if let Some(v) = text(0x0013) {
        b = b.implementation_version_name(v);
    }
    if let Some(v) = text(0x0016) {
        b = b.source_application_entity_title(v);
    }
    let Ok(meta) = b.build() else {
        return Head::Keep;
    };
    let mut prefix = vec![0u8; 128];
    prefix.extend_from_slice(b"DICM");
    if meta.write(&mut prefix).is_err() {
        return Head::Keep;
    }
    Head::Rewrite {
        prefix,
        consumed: i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(elem: u16, v: &str) -> Vec<u8> {
        let mut b = v.as_bytes().to_vec();
        if b.len() % 2 == 1 {
            b.push(0);
        }
        let mut out = vec![0x02, 0x00];
        out.extend_from_slice(&elem.to_le_bytes());
        out.extend_from_slice(b"UI");
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(&b);
        out
    }

    #[test]
    fn bare_meta_gets_a_standard_container() {
        let mut head = el(0x0002, "1.2.840.10008.5.1.4.1.1.7");
        head.extend(el(0x0003, "1.2.3.4"));
        head.extend(el(0x0010, "1.2.840.10008.1.2.1"));
        let meta_len = head.len();
        head.extend_from_slice(&[0x08, 0x00, 0x16, 0x00]);
        match normalize_head(&head, true) {
            Head::Rewrite { prefix, consumed } => {
                assert_eq!(consumed, meta_len);
                assert_eq!(&prefix[128..132], b"DICM");
                // group length first
                assert_eq!(&prefix[132..136], &[0x02, 0x00, 0x00, 0x00]);
            }
            other => panic!("expected a rewrite, got {other:?}"),
        }
        assert_eq!(normalize_head(&head[..10], false), Head::NeedMore);
    }

    #[test]
    fn not_dicom_is_kept_for_the_parser_to_refuse() {
        assert_eq!(normalize_head(&[0u8; 200], true), Head::Keep);
    }
}
