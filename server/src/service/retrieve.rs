//! Retrieval: which instances a principal may read, their metadata, frames (as stored
//! or decoded), rendered images and bulk data. Every call is audited.

use bytes::Bytes;
use dicom_dictionary_std::tags;
use rangsi_pixels::{
    GreyscalePipeline, ImageDescription, PixelDataVr, Voi, VoiFunction, VoiWindow,
};

use super::{Archive, Principal, Result, ServiceError};
use crate::dicom::deflated::{self, DEFLATED_EXPLICIT_VR_LE, DeflatedError};
use crate::dicom::scan::PixelLayout;
use crate::index::query::InstanceLoc;

pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";

/// What the client wants frames as.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameSyntax {
    /// As stored (the stored syntax named, or a compressed media type).
    AsStored,
    /// `transfer-syntax=*`: the origin server chooses (PS3.18 8.7.3.5.2). As
    /// stored, except Deflated (its frames are inside the deflate stream) and
    /// Explicit VR Big Endian (whose 8-bit OW frames cannot be read without the
    /// element's VR): both are served in Explicit VR Little Endian.
    Any,
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
    Gif,
}

impl ImageFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Gif => "image/gif",
        }
    }
}

/// `window=center,width[,function]` (PS3.18 8.3.5.1.4): replaces the file's VOI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderWindow {
    pub center: f64,
    pub width: f64,
    /// LINEAR when the request names none, as in a presentation state.
    pub function: VoiFunction,
}

/// The source region of `viewport=vw,vh,sx,sy,sw,sh`, in image pixels; a
/// negative width or height flips the region (PS3.18 8.3.5.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRegion {
    pub x: u32,
    pub y: u32,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

/// `viewport=vw,vh[,sx,sy,sw,sh]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
    pub region: Option<SourceRegion>,
}

#[derive(Debug, Clone, Default)]
pub struct RenderParams {
    pub window: Option<RenderWindow>,
    pub viewport: Option<Viewport>,
    pub quality: Option<u8>,
}

/// What decoding and rendering need to know of an instance, read once from the
/// data set before its pixel data.
struct InstanceImage {
    desc: ImageDescription,
    /// The rest of the greyscale pipeline; an error (a malformed LUT) only
    /// matters when rendering.
    pipeline: std::result::Result<GreyscalePipeline, String>,
    vr: PixelDataVr,
}

impl InstanceImage {
    fn of(obj: &dicom_object::InMemDicomObject, vr: PixelDataVr) -> Result<Self> {
        Ok(InstanceImage {
            desc: ImageDescription::from_object(obj)
                .map_err(|e| ServiceError::Unsupported(e.to_string()))?,
            pipeline: GreyscalePipeline::from_object(obj).map_err(|e| e.to_string()),
            vr,
        })
    }
}

/// One frame's bytes, as `rangsi_pixels::decode_frame_vr` takes them.
struct SourceFrame {
    bytes: Bytes,
    vr: PixelDataVr,
}

/// Frames of an instance ready to decode, and the syntax they are in.
struct SourceFrames {
    ts: String,
    frames: Vec<SourceFrame>,
    /// Known when it had to be read to find the frames.
    image: Option<InstanceImage>,
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
        let layout = pixel_layout(loc)?;
        let mut out = Vec::with_capacity(numbers.len());
        for &n in numbers {
            let ranges = frame_ranges(&layout, n)?;
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

    /// The instance's description, greyscale pipeline and Pixel Data VR, from the
    /// bytes before its first frame (all of it when the frames are not located).
    async fn image(&self, loc: &InstanceLoc) -> Result<InstanceImage> {
        let first_frame = loc
            .pixel_layout
            .as_deref()
            .and_then(|s| serde_json::from_str::<PixelLayout>(s).ok())
            .and_then(|l| l.frames.first().and_then(|f| f.first()).map(|r| r.0));
        let head_len = first_frame.unwrap_or(loc.size_bytes as u64);
        let head = self.blobs().read_range(&loc.blob_key, 0..head_len).await?;
        let big_endian = loc.transfer_syntax == EXPLICIT_VR_BE;
        tokio::task::spawn_blocking(move || {
            let obj = dicom_object::OpenFileOptions::new()
                .read_until(tags::PIXEL_DATA)
                .from_reader(std::io::Cursor::new(head.get(128..).unwrap_or_default()))
                .map_err(|e| ServiceError::Internal(format!("re-reading stored instance: {e}")))?;
            let vr = if first_frame.is_some() {
                pixel_data_vr(&head, big_endian)
            } else {
                PixelDataVr::Ob
            };
            InstanceImage::of(&obj, vr)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// The frames of an instance as the pixel crate decodes them: byte ranges of
    /// the blob; inflated from the stream for Deflated; 8-bit OW of Explicit VR
    /// Big Endian read in whole words.
    async fn source_frames(&self, loc: &InstanceLoc, numbers: &[u32]) -> Result<SourceFrames> {
        if loc.transfer_syntax == DEFLATED_EXPLICIT_VR_LE {
            return self.deflated_frames(loc, numbers).await;
        }
        let layout = pixel_layout(loc)?;
        if loc.transfer_syntax != EXPLICIT_VR_BE || layout.encapsulated {
            let frames = self.raw_frames(loc, numbers).await?;
            return Ok(SourceFrames {
                ts: loc.transfer_syntax.clone(),
                frames: frames
                    .into_iter()
                    .map(|bytes| SourceFrame {
                        bytes,
                        vr: PixelDataVr::Ob,
                    })
                    .collect(),
                image: None,
            });
        }
        let image = self.image(loc).await?;
        let mut frames = Vec::with_capacity(numbers.len());
        if image.vr == PixelDataVr::Ow && image.desc.bits_allocated <= 8 {
            // A stream of 16-bit words: read the whole words a frame lies in.
            let value_start = layout
                .frames
                .first()
                .and_then(|f| f.first())
                .map_or(0, |r| r.0);
            for &n in numbers {
                let &[(o, l)] = frame_ranges(&layout, n)? else {
                    return Err(ServiceError::Internal(
                        "native frame in several ranges".into(),
                    ));
                };
                let rel = o - value_start;
                let (from, to) = (rel & !1, (rel + l).next_multiple_of(2));
                let words = self
                    .blobs()
                    .read_range(&loc.blob_key, value_start + from..value_start + to)
                    .await?;
                frames.push(if rel % 2 == 0 {
                    SourceFrame {
                        bytes: words,
                        vr: PixelDataVr::Ow,
                    }
                } else {
                    // Starts mid-word: un-swap here, hand over the frame's own bytes.
                    let mut v = words.to_vec();
                    rangsi_pixels::swap_ow_bytes(&mut v);
                    SourceFrame {
                        bytes: Bytes::from(v).slice(1..1 + l as usize),
                        vr: PixelDataVr::Ob,
                    }
                });
            }
        } else {
            for bytes in self.raw_frames(loc, numbers).await? {
                frames.push(SourceFrame {
                    bytes,
                    vr: image.vr,
                });
            }
        }
        Ok(SourceFrames {
            ts: loc.transfer_syntax.clone(),
            frames,
            image: Some(image),
        })
    }

    /// Frames of a Deflated Explicit VR Little Endian instance, inflated from the
    /// blob's stream (`dicom::deflated`): Explicit VR Little Endian bytes.
    async fn deflated_frames(&self, loc: &InstanceLoc, numbers: &[u32]) -> Result<SourceFrames> {
        let reader =
            crate::store::BlockingBlobReader::new(self.blobs().stream(&loc.blob_key, None).await?);
        let numbers = numbers.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut image = None;
            let read = deflated::read_frames(reader, &numbers, |header| {
                let img = InstanceImage::of(header, PixelDataVr::Ob)
                    .map_err(|e| DeflatedError::Unsupported(e.to_string()))?;
                let d = &img.desc;
                if d.bits_allocated == 1 && d.number_of_frames > 1 && d.pixels_per_frame() % 8 != 0
                {
                    return Err(DeflatedError::Unsupported(
                        "1-bit frames that do not end on a byte boundary".into(),
                    ));
                }
                let len = d.native_frame_len() as u64;
                let count = d.number_of_frames;
                image = Some(img);
                Ok((len, count))
            })
            .map_err(|e| match e {
                DeflatedError::NoSuchFrame { .. } | DeflatedError::NoPixelData => {
                    ServiceError::NotFound(e.to_string())
                }
                DeflatedError::Unsupported(m) => ServiceError::Unsupported(m),
                other => ServiceError::Internal(other.to_string()),
            })?;
            Ok(SourceFrames {
                ts: EXPLICIT_VR_LE.into(),
                frames: read
                    .into_iter()
                    .map(|f| SourceFrame {
                        bytes: Bytes::from(f),
                        vr: PixelDataVr::Ob,
                    })
                    .collect(),
                image,
            })
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
        let stored = loc.transfer_syntax.as_str();
        let reframed = stored == DEFLATED_EXPLICIT_VR_LE || stored == EXPLICIT_VR_BE;
        let as_stored = match want {
            FrameSyntax::AsStored => stored != DEFLATED_EXPLICIT_VR_LE,
            FrameSyntax::Any => !reframed,
            FrameSyntax::Native => false,
        };
        if as_stored {
            let ts = if stored == IMPLICIT_VR_LE {
                EXPLICIT_VR_LE
            } else {
                stored
            };
            let raw = self.raw_frames(&loc, numbers).await?;
            return Ok(raw
                .into_iter()
                .map(|bytes| FramePart {
                    bytes,
                    transfer_syntax: ts.to_string(),
                })
                .collect());
        }
        let src = self.source_frames(&loc, numbers).await?;
        if src.ts == EXPLICIT_VR_LE || src.ts == IMPLICIT_VR_LE {
            // Native little endian frames are Explicit VR LE frames already.
            return Ok(src
                .frames
                .into_iter()
                .map(|f| FramePart {
                    bytes: f.bytes,
                    transfer_syntax: EXPLICIT_VR_LE.into(),
                })
                .collect());
        }
        let image = match src.image {
            Some(i) => i,
            None => self.image(&loc).await?,
        };
        let ts = src.ts;
        let frames = src.frames;
        if ts == EXPLICIT_VR_BE && image.desc.bits_allocated >= 8 {
            // Native Big Endian: the same samples in little-endian byte order, in the
            // stored layout (Planar Configuration and Photometric Interpretation as the
            // metadata says), not decoded.
            let desc = &image.desc;
            let length = usize::from(desc.rows)
                * usize::from(desc.columns)
                * usize::from(desc.samples_per_pixel)
                * usize::from(desc.bits_allocated / 8);
            return Ok(frames
                .into_iter()
                .map(|f| FramePart {
                    bytes: Bytes::from(little_endian_frame(
                        &f.bytes,
                        desc.bits_allocated,
                        f.vr,
                        length,
                    )),
                    transfer_syntax: EXPLICIT_VR_LE.into(),
                })
                .collect());
        }
        tokio::task::spawn_blocking(move || {
            frames
                .into_iter()
                .map(|f| {
                    let frame = rangsi_pixels::decode_frame_vr(&ts, &image.desc, f.vr, &f.bytes)
                        .map_err(|e| ServiceError::Unsupported(e.to_string()))?;
                    Ok(FramePart {
                        bytes: Bytes::from(frame.to_native_le_bytes(&image.desc)),
                        transfer_syntax: EXPLICIT_VR_LE.into(),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// A frame rendered for display (`/rendered`, `/thumbnail`, WADO-URI) through
    /// the instance's whole greyscale pipeline (`rangsi_pixels::render_8bit_with`):
    /// Modality LUT Sequence or rescale; the requested window, else the file's
    /// first window (with its VOI LUT Function), else its first VOI LUT, else the
    /// range of the modality values; Presentation LUT Shape or MONOCHROME1
    /// inversion. Colour is rendered in colour (YBR converted, palettes applied).
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
        self.render_loc(&loc, frame, params, format).await
    }

    /// [`Archive::rendered`] of an instance already located (and audited).
    pub async fn render_loc(
        &self,
        loc: &InstanceLoc,
        frame: u32,
        params: &RenderParams,
        format: ImageFormat,
    ) -> Result<Bytes> {
        let src = self.source_frames(loc, &[frame]).await?;
        let image = match src.image {
            Some(i) => i,
            None => self.image(loc).await?,
        };
        let ts = src.ts;
        let params = params.clone();
        let source = src
            .frames
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::NotFound(format!("frame {frame} does not exist")))?;
        tokio::task::spawn_blocking(move || {
            let f = rangsi_pixels::decode_frame_vr(&ts, &image.desc, source.vr, &source.bytes)
                .map_err(|e| ServiceError::Unsupported(e.to_string()))?;
            let mut pipeline = if f.samples_per_pixel == 1 && f.photometric != "PALETTE COLOR" {
                image.pipeline.map_err(ServiceError::Unsupported)?
            } else {
                GreyscalePipeline::default()
            };
            let voi = params.window.map(|w| {
                pipeline.voi_function = w.function;
                Voi::Window(VoiWindow {
                    center: w.center,
                    width: w.width,
                })
            });
            let r = rangsi_pixels::render_8bit_with(&f, &image.desc, &pipeline, voi)
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

/// The located frames of an instance (none for Deflated or without pixel data).
fn pixel_layout(loc: &InstanceLoc) -> Result<PixelLayout> {
    match &loc.pixel_layout {
        Some(s) => serde_json::from_str(s)
            .map_err(|e| ServiceError::Internal(format!("pixel layout: {e}"))),
        None => Err(ServiceError::Unsupported(
            "frames of this instance cannot be located (no pixel data)".into(),
        )),
    }
}

/// The byte ranges of frame `n` (1-based).
fn frame_ranges(layout: &PixelLayout, n: u32) -> Result<&[(u64, u64)]> {
    layout
        .frames
        .get((n as usize).wrapping_sub(1))
        .map(Vec::as_slice)
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "frame {n} does not exist (the instance has {})",
                layout.frames.len()
            ))
        })
}

/// The VR of native Pixel Data from the 12-byte explicit VR header just before
/// its value (`head` ends where the value starts); OB when it cannot be seen.
fn pixel_data_vr(head: &[u8], big_endian: bool) -> PixelDataVr {
    let tag: [u8; 4] = if big_endian {
        [0x7F, 0xE0, 0x00, 0x10]
    } else {
        [0xE0, 0x7F, 0x10, 0x00]
    };
    match head.len().checked_sub(12).map(|at| &head[at..at + 6]) {
        Some(h) if h[..4] == tag && &h[4..6] == b"OW" => PixelDataVr::Ow,
        _ => PixelDataVr::Ob,
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
        // 8-bit samples in OW under Explicit VR Big Endian: a stream of 16-bit
        // words, un-swapped here as a whole so that frames may start mid-word.
        let ow_words = ts == EXPLICIT_VR_BE
            && !layout.encapsulated
            && desc.bits_allocated <= 8
            && obj
                .element_opt(tags::PIXEL_DATA)
                .ok()
                .flatten()
                .is_some_and(|e| e.vr() == VR::OW);
        let unswapped;
        let file: &[u8] = match layout.frames.first().and_then(|f| f.first()) {
            Some(&(start, _)) if ow_words => {
                let mut v = file.to_vec();
                if let Some(value) = v.get_mut(start as usize..) {
                    rangsi_pixels::swap_ow_bytes(value);
                }
                unswapped = v;
                &unswapped
            }
            _ => file,
        };
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

/// A native Big Endian frame's bytes in little-endian order: each sample of
/// `bits_allocated` reversed; 8-bit samples in OW words swapped per word (PS3.5 7.3),
/// in OB left as they are; cut to the frame's `length` (a frame read in whole words
/// may carry one byte of its neighbour).
fn little_endian_frame(
    bytes: &[u8],
    bits_allocated: u16,
    vr: PixelDataVr,
    length: usize,
) -> Vec<u8> {
    let unit = match (bits_allocated, vr) {
        (8, PixelDataVr::Ow) => 2,
        (b, _) => usize::from(b / 8).max(1),
    };
    let mut out = bytes.to_vec();
    if unit > 1 {
        for chunk in out.chunks_exact_mut(unit) {
            chunk.reverse();
        }
    }
    out.truncate(length.min(out.len()));
    out
}

#[cfg(test)]
mod little_endian_tests {
    use super::*;

    #[test]
    fn big_endian_frames_keep_their_layout() {
        assert_eq!(
            little_endian_frame(&[1, 2, 3, 4], 16, PixelDataVr::Ow, 4),
            vec![2, 1, 4, 3]
        );
        assert_eq!(
            little_endian_frame(&[1, 2, 3, 4], 32, PixelDataVr::Ow, 4),
            vec![4, 3, 2, 1]
        );
        assert_eq!(
            little_endian_frame(&[1, 2, 3, 4], 8, PixelDataVr::Ob, 4),
            vec![1, 2, 3, 4]
        );
        // 8-bit in OW: per word, then cut to the frame.
        assert_eq!(
            little_endian_frame(&[1, 2, 3, 4], 8, PixelDataVr::Ow, 3),
            vec![2, 1, 4]
        );
    }
}
