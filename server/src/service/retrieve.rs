//! Retrieval: which instances a principal may read, their metadata, frames (as stored
//! or decoded), rendered images and bulk data. Every call is audited.

use bytes::Bytes;
use dicom_dictionary_std::tags;

use super::{Archive, Principal, Result, ServiceError};
use crate::dicom::scan::PixelLayout;
use crate::index::query::InstanceLoc;

pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// What the client wants frames as.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameSyntax {
    /// As stored (`transfer-syntax=*` or the stored syntax named).
    AsStored,
    /// Decoded, native Explicit VR Little Endian.
    Native,
}

pub struct FramePart {
    pub bytes: Bytes,
    /// Transfer syntax of the bytes.
    pub transfer_syntax: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
}

#[derive(Debug, Clone, Default)]
pub struct RenderParams {
    pub window: Option<(f64, f64)>,
    pub viewport: Option<(u32, u32)>,
    pub quality: Option<u8>,
}

fn is_native_ts(ts: &str) -> bool {
    matches!(
        ts,
        "1.2.840.10008.1.2"
            | "1.2.840.10008.1.2.1"
            | "1.2.840.10008.1.2.2"
            | "1.2.840.10008.1.2.1.99"
    )
}

/// DICOM JSON of instances (with `{{BASE}}` placeholders), one by one.
pub struct MetadataItems {
    first: Option<String>,
    rest: tokio::sync::mpsc::Receiver<crate::index::Result<String>>,
}

impl MetadataItems {
    pub async fn next(&mut self) -> Option<Result<String>> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        self.rest
            .recv()
            .await
            .map(|r| r.map_err(ServiceError::from))
    }
}

impl Archive {
    /// Instances at a level; an empty answer is "not found" (existence is not leaked).
    pub async fn locate(
        &self,
        who: &Principal,
        study: Option<&str>,
        series: Option<&str>,
        instance: Option<&str>,
    ) -> Result<Vec<InstanceLoc>> {
        let locs = self
            .index()
            .locate(&who.scope(), study, series, instance)
            .await?;
        if locs.is_empty() {
            self.audit(
                who,
                "retrieve",
                study.unwrap_or(""),
                "",
                "not found",
                "not-found",
            )
            .await?;
            return Err(ServiceError::NotFound(
                "no such study, series or instance".into(),
            ));
        }
        let detail = format!(
            "{} instance(s){}",
            locs.len(),
            series.map(|s| format!(" series {s}")).unwrap_or_default()
        );
        let patient = locs
            .first()
            .map(|l| l.patient_id.clone())
            .unwrap_or_default();
        self.audit(
            who,
            "retrieve",
            study.unwrap_or(&locs[0].study_uid),
            &patient,
            &detail,
            "ok",
        )
        .await?;
        Ok(locs)
    }

    /// The stored DICOM JSON of each instance of a study, series or instance, read as
    /// the caller takes it (memory stays flat however large the series). The first item
    /// is read before answering, so an unknown or invisible one is still "not found".
    pub async fn metadata(
        &self,
        who: &Principal,
        study: &str,
        series: Option<&str>,
        instance: Option<&str>,
    ) -> Result<MetadataItems> {
        let mut rest = self
            .index()
            .metadata_stream(&who.scope(), study, series, instance);
        let Some(first) = rest.recv().await else {
            self.audit(who, "metadata", study, "", "not found", "not-found")
                .await?;
            return Err(ServiceError::NotFound(
                "no such study, series or instance".into(),
            ));
        };
        let first = first?;
        let what = match (series, instance) {
            (_, Some(i)) => format!("instance {i}"),
            (Some(s), None) => format!("series {s}"),
            (None, None) => "study".to_string(),
        };
        self.audit(who, "metadata", study, "", &what, "ok").await?;
        Ok(MetadataItems {
            first: Some(first),
            rest,
        })
    }

    async fn one_instance(
        &self,
        who: &Principal,
        study: &str,
        series: &str,
        instance: &str,
    ) -> Result<InstanceLoc> {
        let mut locs = self
            .locate(who, Some(study), Some(series), Some(instance))
            .await?;
        Ok(locs.swap_remove(0))
    }

    /// Raw (as stored) bytes of frames, 1-based numbers.
    async fn raw_frames(&self, loc: &InstanceLoc, numbers: &[u32]) -> Result<Vec<Bytes>> {
        let layout: PixelLayout = match &loc.pixel_layout {
            Some(s) => serde_json::from_str(s)
                .map_err(|e| ServiceError::Internal(format!("pixel layout: {e}")))?,
            None => {
                return Err(ServiceError::Unsupported(
                    "frames of this instance cannot be located (no pixel data, or deflated)".into(),
                ));
            }
        };
        let mut out = Vec::with_capacity(numbers.len());
        for &n in numbers {
            let ranges = layout
                .frames
                .get((n as usize).wrapping_sub(1))
                .ok_or_else(|| {
                    ServiceError::NotFound(format!(
                        "frame {n} does not exist (the instance has {})",
                        layout.frames.len()
                    ))
                })?;
            if ranges.len() == 1 {
                let (o, l) = ranges[0];
                out.push(self.blobs().read_range(&loc.blob_key, o..o + l).await?);
            } else {
                let mut buf = Vec::new();
                for &(o, l) in ranges {
                    buf.extend_from_slice(&self.blobs().read_range(&loc.blob_key, o..o + l).await?);
                }
                out.push(Bytes::from(buf));
            }
        }
        Ok(out)
    }

    async fn description(&self, loc: &InstanceLoc) -> Result<rangsi_pixels::ImageDescription> {
        // Only the bytes before the first frame are needed for the description.
        let head_len = loc
            .pixel_layout
            .as_deref()
            .and_then(|s| serde_json::from_str::<PixelLayout>(s).ok())
            .and_then(|l| l.frames.first().and_then(|f| f.first()).map(|r| r.0))
            .unwrap_or(loc.size_bytes as u64);
        let head = self.blobs().read_range(&loc.blob_key, 0..head_len).await?;
        tokio::task::spawn_blocking(move || {
            let obj = dicom_object::OpenFileOptions::new()
                .read_until(tags::PIXEL_DATA)
                .from_reader(std::io::Cursor::new(&head[128..]))
                .map_err(|e| ServiceError::Internal(format!("re-reading stored instance: {e}")))?;
            rangsi_pixels::ImageDescription::from_object(&obj)
                .map_err(|e| ServiceError::Unsupported(e.to_string()))
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    pub async fn frames(
        &self,
        who: &Principal,
        study: &str,
        series: &str,
        instance: &str,
        numbers: &[u32],
        want: FrameSyntax,
    ) -> Result<Vec<FramePart>> {
        let loc = self.one_instance(who, study, series, instance).await?;
        let raw = self.raw_frames(&loc, numbers).await?;
        let stored_native =
            is_native_ts(&loc.transfer_syntax) && loc.transfer_syntax != "1.2.840.10008.1.2.2";
        if want == FrameSyntax::AsStored || stored_native {
            let ts = if stored_native {
                EXPLICIT_VR_LE.to_string()
            } else {
                loc.transfer_syntax.clone()
            };
            return Ok(raw
                .into_iter()
                .map(|bytes| FramePart {
                    bytes,
                    transfer_syntax: ts.clone(),
                })
                .collect());
        }
        let desc = self.description(&loc).await?;
        let ts = loc.transfer_syntax.clone();
        tokio::task::spawn_blocking(move || {
            raw.into_iter()
                .map(|bytes| {
                    let frame = rangsi_pixels::decode_frame(&ts, &desc, &bytes)
                        .map_err(|e| ServiceError::Unsupported(e.to_string()))?;
                    Ok(FramePart {
                        bytes: Bytes::from(frame.to_native_le_bytes(&desc)),
                        transfer_syntax: EXPLICIT_VR_LE.into(),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// A frame rendered for display (`/rendered`, `/thumbnail`).
    pub async fn rendered(
        &self,
        who: &Principal,
        study: &str,
        series: &str,
        instance: &str,
        frame: u32,
        params: &RenderParams,
        format: ImageFormat,
    ) -> Result<Bytes> {
        let loc = self.one_instance(who, study, series, instance).await?;
        let raw = self.raw_frames(&loc, &[frame]).await?;
        let desc = self.description(&loc).await?;
        let ts = loc.transfer_syntax.clone();
        let params = params.clone();
        tokio::task::spawn_blocking(move || {
            let bytes = raw.into_iter().next().unwrap_or_default();
            let f = rangsi_pixels::decode_frame(&ts, &desc, &bytes)
                .map_err(|e| ServiceError::Unsupported(e.to_string()))?;
            let window = params
                .window
                .map(|(center, width)| rangsi_pixels::VoiWindow { center, width });
            let r = rangsi_pixels::render_8bit(&f, &desc, window)
                .map_err(|e| ServiceError::Unsupported(e.to_string()))?;
            crate::web::image::encode(&r, params.viewport, params.quality, format)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// The value of a top-level bulk data element (or all pixel data) of an instance.
    pub async fn bulk(
        &self,
        who: &Principal,
        study: &str,
        series: &str,
        instance: &str,
        tag_hex: &str,
    ) -> Result<Vec<Bytes>> {
        let loc = self.one_instance(who, study, series, instance).await?;
        if tag_hex.eq_ignore_ascii_case("7FE00010") {
            let layout: PixelLayout = match &loc.pixel_layout {
                Some(s) => {
                    serde_json::from_str(s).map_err(|e| ServiceError::Internal(e.to_string()))?
                }
                None => return Err(ServiceError::NotFound("no pixel data".into())),
            };
            let all: Vec<u32> = (1..=layout.frames.len() as u32).collect();
            return self.raw_frames(&loc, &all).await;
        }
        let tag = u32::from_str_radix(tag_hex, 16)
            .map_err(|_| ServiceError::BadRequest(format!("bad tag {tag_hex}")))?;
        let tag = dicom_core::Tag((tag >> 16) as u16, (tag & 0xFFFF) as u16);
        let file = self.blobs().read_all(&loc.blob_key).await?;
        tokio::task::spawn_blocking(move || {
            let obj = dicom_object::OpenFileOptions::new()
                .read_until(tags::PIXEL_DATA)
                .from_reader(std::io::Cursor::new(&file[128..]))
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let e = obj
                .element_opt(tag)
                .ok()
                .flatten()
                .ok_or_else(|| ServiceError::NotFound("no such bulk data".into()))?;
            let bytes = e
                .to_bytes()
                .map_err(|err| ServiceError::Internal(err.to_string()))?
                .to_vec();
            Ok(vec![Bytes::from(bytes)])
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }
}

impl Archive {
    /// The instances a C-MOVE / C-GET identifier designates (PS3.4 C.4.2.2.1): the
    /// unique keys of its level and above, within the principal's scope.
    pub async fn retrieve_set(
        &self,
        who: &Principal,
        spec: &crate::service::query::QuerySpec,
    ) -> Result<Vec<InstanceLoc>> {
        use crate::index::query::Level;
        let get = |tag| {
            spec.keys
                .iter()
                .find(|(t, _)| *t == tag)
                .map(|(_, v)| {
                    v.split('\\')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let studies = get(tags::STUDY_INSTANCE_UID);
        let series = get(tags::SERIES_INSTANCE_UID);
        let sops = get(tags::SOP_INSTANCE_UID);
        let mut study_uids = studies.clone();
        if spec.level == Level::Patient || (study_uids.is_empty() && spec.level == Level::Study) {
            let pid = get(tags::PATIENT_ID);
            if pid.is_empty() {
                return Err(ServiceError::BadRequest(
                    "retrieve needs a Patient ID or Study Instance UID".into(),
                ));
            }
            let q = crate::service::query::QuerySpec {
                level: Level::Study,
                keys: vec![(tags::PATIENT_ID, pid.join("\\"))],
                include: Default::default(),
                fuzzy: false,
                limit: None,
                offset: 0,
            };
            let hits = self
                .index()
                .query(
                    &who.scope(),
                    &crate::index::query::Query {
                        level: Level::Study,
                        conds: vec![(
                            crate::index::query::Col::PatientId,
                            crate::index::query::Matcher::Equals(q.keys[0].1.clone()),
                        )],
                        limit: None,
                        offset: 0,
                        want_metadata: false,
                    },
                )
                .await?;
            study_uids = hits.into_iter().map(|h| h.study_uid).collect();
        }
        let mut out = Vec::new();
        let scope = who.scope();
        match spec.level {
            Level::Patient | Level::Study => {
                for s in &study_uids {
                    out.extend(self.index().locate(&scope, Some(s), None, None).await?);
                }
            }
            Level::Series => {
                if series.is_empty() {
                    return Err(ServiceError::BadRequest(
                        "series-level retrieve needs Series Instance UID".into(),
                    ));
                }
                for se in &series {
                    out.extend(
                        self.index()
                            .locate(
                                &scope,
                                study_uids.first().map(String::as_str),
                                Some(se),
                                None,
                            )
                            .await?,
                    );
                }
            }
            Level::Instance => {
                if sops.is_empty() {
                    return Err(ServiceError::BadRequest(
                        "image-level retrieve needs SOP Instance UID".into(),
                    ));
                }
                for sop in &sops {
                    out.extend(
                        self.index()
                            .locate(
                                &scope,
                                study_uids.first().map(String::as_str),
                                series.first().map(String::as_str),
                                Some(sop),
                            )
                            .await?,
                    );
                }
            }
        }
        let detail = format!("{} instance(s) for {:?}", out.len(), spec.level);
        self.audit(
            who,
            "retrieve",
            study_uids.first().map(String::as_str).unwrap_or(""),
            "",
            &detail,
            "ok",
        )
        .await?;
        Ok(out)
    }
}

/// Lossy syntaxes: decoding them to Explicit VR Little Endian would present lossy pixels
/// as if they were original, so they are always served as stored (PS3.18 8.7.3.4).
pub fn is_lossy(ts: &str) -> bool {
    matches!(
        ts,
        "1.2.840.10008.1.2.4.50"
            | "1.2.840.10008.1.2.4.51"
            | "1.2.840.10008.1.2.4.81"
            | "1.2.840.10008.1.2.4.91"
            | "1.2.840.10008.1.2.4.203"
            | "1.2.840.10008.1.2.4.100"
            | "1.2.840.10008.1.2.4.101"
            | "1.2.840.10008.1.2.4.102"
            | "1.2.840.10008.1.2.4.103"
            | "1.2.840.10008.1.2.4.104"
            | "1.2.840.10008.1.2.4.105"
            | "1.2.840.10008.1.2.4.106"
    )
}

/// Whether an instance stored in `ts` must be converted to give Explicit VR LE.
pub fn needs_transcode_to_explicit_le(ts: &str) -> bool {
    ts != EXPLICIT_VR_LE && !is_lossy(ts)
}

impl Archive {
    /// The instance as a Part 10 file in Explicit VR Little Endian: frames decoded by
    /// `rangsi-pixels`, Photometric Interpretation and Planar Configuration updated.
    pub async fn instance_as_explicit_le(&self, loc: &InstanceLoc) -> Result<Bytes> {
        let file = self.blobs().read_all(&loc.blob_key).await?;
        let layout: Option<PixelLayout> = loc
            .pixel_layout
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok());
        let ts = loc.transfer_syntax.clone();
        tokio::task::spawn_blocking(move || transcode_explicit_le(&file, &ts, layout.as_ref()))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
    }
}

fn transcode_explicit_le(file: &[u8], ts: &str, layout: Option<&PixelLayout>) -> Result<Bytes> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    let unsupported = |e: String| ServiceError::Unsupported(e);
    if file.len() < 132 {
        return Err(ServiceError::Internal("stored file too short".into()));
    }
    let fobj = dicom_object::OpenFileOptions::new()
        .from_reader(std::io::Cursor::new(&file[128..]))
        .map_err(|e| ServiceError::Internal(format!("re-reading stored instance: {e}")))?;
    let class = fobj
        .meta()
        .media_storage_sop_class_uid()
        .trim_end_matches('\0')
        .to_string();
    let inst = fobj
        .meta()
        .media_storage_sop_instance_uid()
        .trim_end_matches('\0')
        .to_string();
    let mut obj = fobj.into_inner();
    if let Some(layout) = layout {
        let desc = rangsi_pixels::ImageDescription::from_object(&obj)
            .map_err(|e| unsupported(e.to_string()))?;
        let mut native = Vec::new();
        let mut photometric = None;
        for ranges in &layout.frames {
            let mut bytes = Vec::new();
            for &(o, l) in ranges {
                let (o, l) = (o as usize, l as usize);
                bytes.extend_from_slice(
                    file.get(o..o + l)
                        .ok_or_else(|| ServiceError::Internal("frame outside the file".into()))?,
                );
            }
            let frame = rangsi_pixels::decode_frame(ts, &desc, &bytes)
                .map_err(|e| unsupported(e.to_string()))?;
            photometric = Some(frame.photometric.clone());
            native.extend_from_slice(&frame.to_native_le_bytes(&desc));
        }
        if native.len() % 2 == 1 {
            native.push(0);
        }
        let vr = if desc.bits_allocated > 8 {
            VR::OW
        } else {
            VR::OB
        };
        obj.put(DataElement::new(
            dicom_dictionary_std::tags::PIXEL_DATA,
            vr,
            PrimitiveValue::from(native),
        ));
        if let Some(p) = photometric {
            obj.put(DataElement::new(
                dicom_dictionary_std::tags::PHOTOMETRIC_INTERPRETATION,
                VR::CS,
                PrimitiveValue::from(p.as_str()),
            ));
        }
        if desc.samples_per_pixel > 1 {
            obj.put(DataElement::new(
                dicom_dictionary_std::tags::PLANAR_CONFIGURATION,
                VR::US,
                PrimitiveValue::from(0u16),
            ));
        }
    }
    let meta = dicom_object::FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_VR_LE)
        .media_storage_sop_class_uid(class)
        .media_storage_sop_instance_uid(inst)
        .implementation_class_uid(crate::dimse::IMPLEMENTATION_CLASS_UID)
        .implementation_version_name("RANGSI_0_1")
        .build()
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let explicit = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(EXPLICIT_VR_LE)
        .ok_or_else(|| ServiceError::Internal("no explicit VR LE".into()))?;
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    meta.write(&mut out)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    obj.write_dataset_with_ts(&mut out, explicit)
        .map_err(|e| ServiceError::Internal(format!("writing transcoded instance: {e}")))?;
    Ok(Bytes::from(out))
}
