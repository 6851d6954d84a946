//! [`SliceInfo`]s from DICOM JSON metadata (PS3.18 F.2, as WADO-RS `/metadata`
//! returns it): one per single-frame instance, one per frame of an Enhanced
//! multi-frame instance, whose geometry lives in the Shared and Per-frame Functional
//! Groups (PS3.3 C.7.6.16: Plane Position, Plane Orientation, Pixel Measures, Frame
//! Content).

use crate::assemble::{SliceInfo, Source};
use serde_json::Value;

const SHARED_GROUPS: &str = "52009229";
const PER_FRAME_GROUPS: &str = "52009230";
const PLANE_POSITION: &str = "00209113";
const PLANE_ORIENTATION: &str = "00209116";
const PIXEL_MEASURES: &str = "00289110";
const FRAME_CONTENT: &str = "00209111";
const CARDIAC_SYNC: &str = "00189118";
const MR_DIFFUSION: &str = "00189117";
const MR_ECHO: &str = "00189114";

const POSITION: &str = "00200032";
const ORIENTATION: &str = "00200037";
const PIXEL_SPACING: &str = "00280030";
const ROWS: &str = "00280010";
const COLUMNS: &str = "00280011";
const SAMPLES: &str = "00280002";
const FRAMES: &str = "00280008";
const FRAME_OF_REFERENCE: &str = "00200052";
const INSTANCE_NUMBER: &str = "00200013";

/// Values of `tag` in a DICOM JSON object, as numbers (DS/IS may come as strings).
fn numbers(obj: &Value, tag: &str) -> Vec<f64> {
    obj.get(tag)
        .and_then(|a| a.get("Value"))
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter_map(|v| match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn text(obj: &Value, tag: &str) -> Option<String> {
    let v = obj.get(tag)?.get("Value")?.as_array()?.first()?;
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first item of a sequence attribute.
fn item<'a>(obj: &'a Value, tag: &str) -> Option<&'a Value> {
    obj.get(tag)?.get("Value")?.as_array()?.first()
}

fn vec3(v: Vec<f64>) -> Option<[f64; 3]> {
    (v.len() >= 3 && v.iter().all(|x| x.is_finite())).then(|| [v[0], v[1], v[2]])
}

fn iop(v: Vec<f64>) -> Option<[f64; 6]> {
    (v.len() >= 6 && v.iter().all(|x| x.is_finite())).then(|| [v[0], v[1], v[2], v[3], v[4], v[5]])
}

fn spacing(v: Vec<f64>) -> Option<[f64; 2]> {
    (v.len() >= 2 && v[0] > 0.0 && v[1] > 0.0 && v.iter().all(|x| x.is_finite()))
        .then(|| [v[0], v[1]])
}

/// Phase keys of a classic instance, in order of preference.
fn classic_phase_keys(obj: &Value) -> Vec<(&'static str, String)> {
    let keys: [(&'static str, &str); 6] = [
        ("TemporalPositionIdentifier", "00200100"),
        ("TriggerTime", "00181060"),
        ("DiffusionBValue", "00189087"),
        ("EchoTime", "00180081"),
        ("AcquisitionNumber", "00200012"),
        ("TemporalPositionIndex", "00209128"),
    ];
    keys.iter()
        .filter_map(|&(name, tag)| text(obj, tag).map(|v| (name, v)))
        .collect()
}

/// The images of one series' metadata (an array of instances), in that order.
pub fn slices_from_metadata(instances: &[Value]) -> Vec<SliceInfo> {
    let mut out = Vec::new();
    for (index, obj) in instances.iter().enumerate() {
        let rows = numbers(obj, ROWS).first().copied().unwrap_or(0.0) as u32;
        let columns = numbers(obj, COLUMNS).first().copied().unwrap_or(0.0) as u32;
        let samples_per_pixel = numbers(obj, SAMPLES).first().copied().unwrap_or(1.0) as u16;
        let frame_of_reference = text(obj, FRAME_OF_REFERENCE);
        let instance_number = numbers(obj, INSTANCE_NUMBER).first().map(|&n| n as i64);
        let frames = numbers(obj, FRAMES)
            .first()
            .copied()
            .unwrap_or(1.0)
            .max(1.0) as u32;
        let base = SliceInfo {
            source: Source {
                instance: index,
                frame: 0,
            },
            position: vec3(numbers(obj, POSITION)),
            orientation: iop(numbers(obj, ORIENTATION)),
            pixel_spacing: spacing(numbers(obj, PIXEL_SPACING)),
            rows,
            columns,
            samples_per_pixel,
            frame_of_reference,
            phase_keys: classic_phase_keys(obj),
            instance_number,
        };
        let per_frame: Vec<&Value> = obj
            .get(PER_FRAME_GROUPS)
            .and_then(|a| a.get("Value"))
            .and_then(Value::as_array)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let shared = item(obj, SHARED_GROUPS);
        if frames > 1 || !per_frame.is_empty() || shared.is_some() {
            // A frame without its own functional group has no position of its own: a
            // Number of Frames from the file (which may be absurd) never makes more
            // images than there are per-frame groups, and one without any.
            let placed = if per_frame.is_empty() {
                1
            } else {
                frames.min(per_frame.len() as u32)
            };
            for f in 0..placed {
                let own = per_frame.get(f as usize).copied();
                // A functional group from the frame's own item, else the shared one.
                let group = |tag: &str| {
                    own.and_then(|o| item(o, tag))
                        .or_else(|| shared.and_then(|s| item(s, tag)))
                };
                let mut s = base.clone();
                s.source.frame = f;
                if let Some(g) = group(PLANE_POSITION) {
                    s.position = vec3(numbers(g, POSITION));
                } else if frames > 1 {
                    s.position = None; // one position for many frames is not a volume
                }
                if let Some(g) = group(PLANE_ORIENTATION) {
                    s.orientation = iop(numbers(g, ORIENTATION));
                }
                if let Some(ps) =
                    group(PIXEL_MEASURES).and_then(|g| spacing(numbers(g, PIXEL_SPACING)))
                {
                    s.pixel_spacing = Some(ps);
                }
                let mut keys: Vec<(&'static str, String)> = Vec::new();
                if let Some(v) = group(FRAME_CONTENT).and_then(|g| text(g, "00209128")) {
                    keys.push(("TemporalPositionIndex", v));
                }
                if let Some(v) = group(CARDIAC_SYNC).and_then(|g| text(g, "00209153")) {
                    keys.push(("NominalCardiacTriggerDelayTime", v));
                }
                if let Some(v) = group(MR_DIFFUSION).and_then(|g| text(g, "00189087")) {
                    keys.push(("DiffusionBValue", v));
                }
                if let Some(v) = group(MR_ECHO).and_then(|g| text(g, "00189082")) {
                    keys.push(("EffectiveEchoTime", v));
                }
                if let Some(v) = group(FRAME_CONTENT).and_then(|g| text(g, "00209056")) {
                    keys.push(("StackID", v));
                }
                if !keys.is_empty() {
                    s.phase_keys = keys;
                }
                out.push(s);
            }
        } else {
            out.push(base);
        }
    }
    out
}
