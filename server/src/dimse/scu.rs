//! Outbound C-STORE for C-MOVE (to a registered destination) and the shared pieces
//! C-GET uses: choosing a presentation context and producing data set bytes.

use std::collections::BTreeSet;

use dicom_ul::association::{AsyncClientAssociation, ClientAssociationOptions};
use dicom_ul::pdu::{
    PDataValue, PDataValueType, Pdu, PresentationContextNegotiated, PresentationContextResultReason,
};
use tokio::net::TcpStream;

use super::message::*;
use crate::index::query::InstanceLoc;
use crate::service::Archive;

const NATIVE: &[&str] = &["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"];

fn is_native(ts: &str) -> bool {
    matches!(
        ts,
        "1.2.840.10008.1.2" | "1.2.840.10008.1.2.1" | "1.2.840.10008.1.2.2"
    )
}

/// An accepted context for `class`: the stored syntax if accepted, else (for native
/// data) any accepted native syntax we can re-encode into.
pub fn choose_context(
    pcs: &[PresentationContextNegotiated],
    class: &str,
    stored_ts: &str,
) -> Option<(u8, String)> {
    let accepted = |pc: &&PresentationContextNegotiated| {
        pc.reason == PresentationContextResultReason::Acceptance
            && pc.abstract_syntax.trim_end_matches('\0') == class
    };
    let ts =
        |pc: &PresentationContextNegotiated| pc.transfer_syntax.trim_end_matches('\0').to_string();
    if let Some(pc) = pcs.iter().filter(accepted).find(|pc| ts(pc) == stored_ts) {
        return Some((pc.id, ts(pc)));
    }
    if is_native(stored_ts) {
        if let Some(pc) = pcs.iter().filter(accepted).find(|pc| is_native(&ts(pc))) {
            return Some((pc.id, ts(pc)));
        }
    }
    None
}

/// The data set bytes of a stored instance in `ts`: the stored bytes when the syntax is
/// the same (byte-exact), re-encoded otherwise (native to native only).
pub async fn dataset_bytes(
    archive: &Archive,
    loc: &InstanceLoc,
    ts_uid: &str,
) -> anyhow::Result<Vec<u8>> {
    let size = loc.size_bytes as u64;
    let offset = loc.dataset_offset as u64;
    if ts_uid == loc.transfer_syntax {
        return Ok(archive
            .blobs()
            .read_range(&loc.blob_key, offset..size)
            .await?
            .to_vec());
    }
    let file = archive.blobs().read_all(&loc.blob_key).await?;
    let ts_uid = ts_uid.to_string();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
        let obj =
            dicom_object::OpenFileOptions::new().from_reader(std::io::Cursor::new(&file[128..]))?;
        let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
            .get(&ts_uid)
            .ok_or_else(|| anyhow::anyhow!("unknown transfer syntax {ts_uid}"))?;
        let mut out = Vec::new();
        obj.into_inner().write_dataset_with_ts(&mut out, ts)?;
        Ok(out)
    })
    .await?
}

pub struct StoreScu {
    assoc: AsyncClientAssociation<TcpStream>,
    next_id: u16,
}

impl StoreScu {
    pub async fn connect(
        our_ae: &str,
        dest_ae: &str,
        addr: &str,
        locs: &[InstanceLoc],
    ) -> anyhow::Result<Self> {
        let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
        for l in locs {
            pairs.insert((l.sop_class_uid.clone(), l.transfer_syntax.clone()));
        }
        let mut opts = ClientAssociationOptions::new()
            .calling_ae_title(our_ae)
            .called_ae_title(dest_ae)
            .max_pdu_length(131_072);
        // One context per (class, stored syntax), plus native fallbacks for native data.
        let mut n = 0;
        for (class, ts) in &pairs {
            if n >= 127 {
                break;
            }
            let mut list = vec![ts.clone()];
            if is_native(ts) {
                list.extend(NATIVE.iter().map(|s| s.to_string()).filter(|s| s != ts));
            }
            opts = opts.with_presentation_context(class.clone(), list);
            n += 1;
        }
        let mut assoc = opts.establish_async(addr).await?;
        let _ = assoc.inner_stream().set_nodelay(true);
        Ok(Self { assoc, next_id: 1 })
    }

    pub async fn store(
        &mut self,
        archive: &Archive,
        loc: &InstanceLoc,
        originator: &str,
        originator_msg: u16,
    ) -> anyhow::Result<u16> {
        let pcs = self.assoc.presentation_contexts().to_vec();
        let (pc, ts) =
            choose_context(&pcs, &loc.sop_class_uid, &loc.transfer_syntax).ok_or_else(|| {
                anyhow::anyhow!("destination accepted no context for {}", loc.sop_class_uid)
            })?;
        let bytes = dataset_bytes(archive, loc, &ts).await?;
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let rq = CommandBuilder::new(C_STORE_RQ)
            .us(MESSAGE_ID, id)
            .us(PRIORITY, 0)
            .us(COMMAND_DATA_SET_TYPE, 0)
            .uid(AFFECTED_SOP_CLASS_UID, &loc.sop_class_uid)
            .uid(AFFECTED_SOP_INSTANCE_UID, &loc.sop_uid)
            .text(MOVE_ORIGINATOR_AE, originator)
            .us(MOVE_ORIGINATOR_MESSAGE_ID, originator_msg);
        self.assoc
            .send(&Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: pc,
                    value_type: PDataValueType::Command,
                    is_last: true,
                    data: rq.encode(),
                }],
            })
            .await?;
        let max = self.assoc.acceptor_max_pdu_length();
        let chunk = if max == 0 {
            64 * 1024
        } else {
            (max as usize).saturating_sub(6).clamp(1024, 1 << 20)
        };
        let n = bytes.len().div_ceil(chunk).max(1);
        for i in 0..n {
            let part = &bytes[(i * chunk).min(bytes.len())..((i + 1) * chunk).min(bytes.len())];
            self.assoc
                .send(&Pdu::PData {
                    data: vec![PDataValue {
                        presentation_context_id: pc,
                        value_type: PDataValueType::Data,
                        is_last: i + 1 == n,
                        data: part.to_vec(),
                    }],
                })
                .await?;
        }
        let mut buf = Vec::new();
        loop {
            match self.assoc.receive().await? {
                Pdu::PData { data } => {
                    for pdv in data {
                        if pdv.value_type == PDataValueType::Command {
                            buf.extend_from_slice(&pdv.data);
                            if pdv.is_last {
                                let c = Command::decode(&buf)?;
                                buf.clear();
                                if c.command_field() == Some(C_STORE_RSP) {
                                    return Ok(c.u16(STATUS).unwrap_or(0xFFFF));
                                }
                            }
                        }
                    }
                }
                other => anyhow::bail!(
                    "unexpected {} from move destination",
                    other.short_description()
                ),
            }
        }
    }

    pub async fn release(self) {
        let _ = self.assoc.release().await;
    }
}
