//! DICOM JSON (PS3.18 Annex F.2) from a parsed data set.
//!
//! Written at ingest and stored in the index, so `/metadata` never opens a file. Text is
//! re-decoded through [`CharsetContext`] where dicom-rs's single-charset decoding is not
//! enough; the output is always UTF-8, so Specific Character Set is given as ISO_IR 192.
//! Large binary values become BulkDataURIs under the `{{BASE}}` placeholder, which the
//! web layer replaces with the request's own base URL.

use base64::Engine;
use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;
use serde_json::{Map, Value as J, json};

use super::charset::CharsetContext;

/// Binary values up to this size are inlined (base64); larger ones are bulk data.
pub const INLINE_BINARY_MAX: usize = 1024;
pub const BASE_PLACEHOLDER: &str = "{{BASE}}";

pub struct JsonContext<'a> {
    pub charset: &'a CharsetContext,
    /// `{{BASE}}/studies/S/series/X/instances/I`
    pub instance_url: &'a str,
}

pub fn tag_key(tag: Tag) -> String {
    format!("{:04X}{:04X}", tag.group(), tag.element())
}

fn is_text_vr(vr: VR) -> bool {
    matches!(
        vr,
        VR::SH | VR::LO | VR::ST | VR::LT | VR::UT | VR::UC | VR::PN
    )
}

fn single_valued_text(vr: VR) -> bool {
    matches!(vr, VR::ST | VR::LT | VR::UT | VR::UR)
}

/// The string values of a text element as the user should read them.
pub fn text_values(p: &PrimitiveValue, vr: VR, cs: &CharsetContext) -> Vec<String> {
    let raw: Vec<String> = match p {
        PrimitiveValue::Empty => vec![],
        PrimitiveValue::Str(s) => vec![s.clone()],
        PrimitiveValue::Strs(v) => v.iter().cloned().collect(),
        other => other.to_multi_str().iter().cloned().collect(),
    };
    let raw = if single_valued_text(vr) && raw.len() > 1 {
        vec![raw.join("\\")]
    } else {
        raw
    };
    raw.into_iter()
        .map(|s| {
            let s = if is_text_vr(vr) && cs.needs_fixing() {
                cs.repair(&s, vr == VR::PN)
            } else {
                s
            };
            let trimmed = s.trim_end_matches(['\0', ' ']);
            if matches!(vr, VR::ST | VR::LT | VR::UT) {
                trimmed.to_string()
            } else {
                trimmed.trim_start_matches(' ').to_string()
            }
        })
        .collect()
}

fn pn_json(s: &str) -> J {
    let mut m = Map::new();
    for (i, group) in s.split('=').enumerate().take(3) {
        if group.is_empty() {
            continue;
        }
        let key = ["Alphabetic", "Ideographic", "Phonetic"][i];
        m.insert(key.into(), J::String(group.to_string()));
    }
    J::Object(m)
}

fn number_from_str(s: &str, integer: bool) -> J {
    let t = s.trim();
    if integer {
        if let Ok(v) = t.parse::<i64>() {
            return json!(v);
        }
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => {
            if integer && v.fract() == 0.0 && v.abs() < 9.0e15 {
                json!(v as i64)
            } else {
                json!(v)
            }
        }
        _ => J::String(t.to_string()),
    }
}

fn float_json(v: f64) -> J {
    if v.is_finite() { json!(v) } else { J::Null }
}

fn binary_bytes(p: &PrimitiveValue) -> Vec<u8> {
    match p {
        PrimitiveValue::U8(v) => v.to_vec(),
        PrimitiveValue::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::U64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        other => other.to_bytes().to_vec(),
    }
}

fn primitive_json(
    p: &PrimitiveValue,
    vr: VR,
    tag: Tag,
    ctx: &JsonContext<'_>,
    top_level: bool,
) -> Option<(String, J)> {
    if matches!(p, PrimitiveValue::Empty) {
        return None;
    }
    let values: Vec<J> = match vr {
        VR::OB | VR::OD | VR::OF | VR::OL | VR::OV | VR::OW | VR::UN => {
            let bytes = binary_bytes(p);
            if top_level && bytes.len() > INLINE_BINARY_MAX {
                return Some((
                    "BulkDataURI".into(),
                    J::String(format!("{}/bulk/{}", ctx.instance_url, tag_key(tag))),
                ));
            }
            return Some((
                "InlineBinary".into(),
                J::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ));
        }
        VR::PN => text_values(p, vr, ctx.charset)
            .iter()
            .map(|s| if s.is_empty() { J::Null } else { pn_json(s) })
            .collect(),
        VR::IS => p
            .to_multi_str()
            .iter()
            .map(|s| number_from_str(s, true))
            .collect(),
        VR::DS => p
            .to_multi_str()
            .iter()
            .map(|s| number_from_str(s, false))
            .collect(),
        VR::US | VR::SS | VR::UL | VR::SL | VR::SV | VR::UV => match p {
            PrimitiveValue::U8(v) => v.iter().map(|x| json!(x)).collect(),
            PrimitiveValue::U16(v) => v.iter().map(|x| json!(x)).collect(),
            PrimitiveValue::I16(v) => v.iter().map(|x| json!(x)).collect(),
            PrimitiveValue::U32(v) => v.iter().map(|x| json!(x)).collect(),
            PrimitiveValue::I32(v) => v.iter().map(|x| json!(x)).collect(),
            PrimitiveValue::U64(v) => v.iter().map(|x| json!(x)).collect(),
            PrimitiveValue::I64(v) => v.iter().map(|x| json!(x)).collect(),
            other => other
                .to_multi_str()
                .iter()
                .map(|s| number_from_str(s, true))
                .collect(),
        },
        VR::FL | VR::FD => match p {
            PrimitiveValue::F32(v) => v.iter().map(|x| float_json(f64::from(*x))).collect(),
            PrimitiveValue::F64(v) => v.iter().map(|x| float_json(*x)).collect(),
            other => other
                .to_multi_str()
                .iter()
                .map(|s| number_from_str(s, false))
                .collect(),
        },
        VR::AT => match p {
            PrimitiveValue::Tags(v) => v.iter().map(|t| J::String(tag_key(*t))).collect(),
            _ => return None,
        },
        _ => text_values(p, vr, ctx.charset)
            .into_iter()
            .map(|s| if s.is_empty() { J::Null } else { J::String(s) })
            .collect(),
    };
    if values.is_empty() || values.iter().all(J::is_null) && values.len() == 1 {
        return None;
    }
    Some(("Value".into(), J::Array(values)))
}

fn dataset_json(obj: &InMemDicomObject, ctx: &JsonContext<'_>, top_level: bool) -> Map<String, J> {
    let mut out = Map::new();
    for elem in obj {
        let tag = elem.tag();
        if tag.element() == 0x0000 || tag.group() == 0x0002 || tag.group() == 0xFFFE {
            continue; // group lengths, file meta, stray delimiters
        }
        let vr = elem.vr();
        let mut entry = Map::new();
        entry.insert("vr".into(), J::String(vr.to_string().to_string()));
        if tag == dicom_dictionary_std::tags::SPECIFIC_CHARACTER_SET {
            entry.insert("Value".into(), json!(["ISO_IR 192"]));
            out.insert(tag_key(tag), J::Object(entry));
            continue;
        }
        match elem.value() {
            Value::Primitive(p) => {
                if let Some((k, v)) = primitive_json(p, vr, tag, ctx, top_level) {
                    entry.insert(k, v);
                }
            }
            Value::Sequence(seq) => {
                let items: Vec<J> = seq
                    .items()
                    .iter()
                    .map(|item| J::Object(dataset_json(item, ctx, false)))
                    .collect();
                if !items.is_empty() {
                    entry.insert("Value".into(), J::Array(items));
                }
            }
            Value::PixelSequence(_) => {
                entry.insert(
                    "BulkDataURI".into(),
                    J::String(format!("{}/bulk/{}", ctx.instance_url, tag_key(tag))),
                );
            }
        }
        out.insert(tag_key(tag), J::Object(entry));
    }
    out
}

/// The DICOM JSON object of one instance. `pixel_vr` adds a PixelData bulk reference
/// (the parse stops before pixel data to keep memory flat).
pub fn instance_json(
    obj: &InMemDicomObject,
    ctx: &JsonContext<'_>,
    pixel_vr: Option<&str>,
    transfer_syntax: &str,
) -> Map<String, J> {
    let mut m = dataset_json(obj, ctx, true);
    // Which transfer syntax the stored instance has (PS3.18 10.6.3 metadata attributes).
    m.insert(
        "00083002".into(),
        json!({"vr": "UI", "Value": [transfer_syntax]}),
    );
    if let Some(vr) = pixel_vr {
        m.insert(
            "7FE00010".into(),
            json!({"vr": vr, "BulkDataURI": format!("{}/bulk/7FE00010", ctx.instance_url)}),
        );
    }
    m
}
