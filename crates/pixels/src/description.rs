//! [`ImageDescription`]: the attributes needed to interpret a frame's bytes
//! (Image Pixel module, Modality LUT, VOI LUT, palette), read once from a data
//! set so that frames can later be decoded from their bytes alone.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use crate::PixelError;

/// A VOI window (Window Center / Window Width), in modality units (after rescale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiWindow {
    /// Window Center (0028,1050).
    pub center: f64,
    /// Window Width (0028,1051); above 0 for windows read from a data set
    /// (LINEAR treats widths below 1 as a threshold).
    pub width: f64,
}

/// One channel of a Palette Color lookup table, as in (0028,1101..1203).
#[derive(Debug, Clone, PartialEq)]
pub struct PaletteLut {
    /// First stored pixel value mapped (second value of the descriptor).
    pub first_mapped: i32,
    /// Bits per entry (third value of the descriptor: 8 or 16).
    pub bits: u16,
    /// Red entries.
    pub red: Vec<u16>,
    /// Green entries.
    pub green: Vec<u16>,
    /// Blue entries.
    pub blue: Vec<u16>,
}

/// Everything needed to interpret one frame's bytes, taken from the data set's
/// Image Pixel module and related modules.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDescription {
    /// Rows (0028,0010).
    pub rows: u16,
    /// Columns (0028,0011).
    pub columns: u16,
    /// Samples per Pixel (0028,0002): 1 or 3.
    pub samples_per_pixel: u16,
    /// Bits Allocated (0028,0100): 1, 8, 16, 32 or 64.
    pub bits_allocated: u16,
    /// Bits Stored (0028,0101).
    pub bits_stored: u16,
    /// High Bit (0028,0102).
    pub high_bit: u16,
    /// Pixel Representation (0028,0103): 0 unsigned, 1 two's complement.
    pub pixel_representation: u16,
    /// Planar Configuration (0028,0006): 0 interleaved, 1 by plane.
    pub planar_configuration: u16,
    /// Photometric Interpretation (0028,0004), trimmed, e.g. "MONOCHROME2".
    pub photometric: String,
    /// Number of Frames (0028,0008), 1 when absent.
    pub number_of_frames: u32,
    /// Rescale Slope (0028,1053), 1 when absent.
    pub rescale_slope: f64,
    /// Rescale Intercept (0028,1052), 0 when absent.
    pub rescale_intercept: f64,
    /// VOI windows from Window Center / Window Width, in file order.
    pub windows: Vec<VoiWindow>,
    /// Window Center & Width Explanation (0028,1055), one per window where given.
    pub window_explanations: Vec<String>,
    /// Float Pixel Data (7FE0,0008) or Double Float Pixel Data (7FE0,0009).
    pub float_pixels: bool,
    /// The Palette Color LUT, for PALETTE COLOR images that carry one
    /// (Segmented Palette Color LUT Data expanded to plain tables).
    pub palette: Option<PaletteLut>,
}

impl ImageDescription {
    /// Read from a parsed data set (pixel data itself may be absent from `obj`).
    ///
    /// Rescale and window values fall back to the Shared (then the first
    /// Per-frame) Functional Groups of enhanced multi-frame objects.
    pub fn from_object(obj: &InMemDicomObject) -> Result<Self, PixelError> {
        let rows = required_u16(obj, tags::ROWS, "Rows")?;
        let columns = required_u16(obj, tags::COLUMNS, "Columns")?;
        let bits_allocated = required_u16(obj, tags::BITS_ALLOCATED, "BitsAllocated")?;
        let samples_per_pixel =
            optional_u16(obj, tags::SAMPLES_PER_PIXEL, "SamplesPerPixel")?.unwrap_or(1);
        let float_pixels = obj.get(tags::FLOAT_PIXEL_DATA).is_some()
            || obj.get(tags::DOUBLE_FLOAT_PIXEL_DATA).is_some()
            || bits_allocated == 64;
        let bits_stored =
            optional_u16(obj, tags::BITS_STORED, "BitsStored")?.unwrap_or(bits_allocated);
        let high_bit =
            optional_u16(obj, tags::HIGH_BIT, "HighBit")?.unwrap_or(bits_stored.saturating_sub(1));
        let pixel_representation =
            optional_u16(obj, tags::PIXEL_REPRESENTATION, "PixelRepresentation")?.unwrap_or(0);
        let planar_configuration =
            optional_u16(obj, tags::PLANAR_CONFIGURATION, "PlanarConfiguration")?.unwrap_or(0);
        let photometric = match obj.get(tags::PHOTOMETRIC_INTERPRETATION) {
            Some(e) => e
                .to_str()
                .map_err(|_| invalid("PhotometricInterpretation", "not text"))?
                .trim_matches(|c: char| c == ' ' || c == '\0')
                .to_ascii_uppercase(),
            None if samples_per_pixel == 1 => "MONOCHROME2".to_owned(),
            None => "RGB".to_owned(),
        };
        let number_of_frames = match obj.get(tags::NUMBER_OF_FRAMES) {
            Some(e) => {
                let n: i64 = e
                    .to_int()
                    .map_err(|_| invalid("NumberOfFrames", &text_of(e)))?;
                u32::try_from(n.max(1)).map_err(|_| invalid("NumberOfFrames", &n.to_string()))?
            }
            None => 1,
        };

        let groups = functional_groups(obj);
        let rescale_slope = find_f64(
            obj,
            &groups,
            tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
            tags::RESCALE_SLOPE,
        )
        .filter(|s| s.is_finite() && *s != 0.0)
        .unwrap_or(1.0);
        let rescale_intercept = find_f64(
            obj,
            &groups,
            tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
            tags::RESCALE_INTERCEPT,
        )
        .filter(|s| s.is_finite())
        .unwrap_or(0.0);
        let (windows, window_explanations) = read_windows(obj)
            .or_else(|| {
                groups
                    .iter()
                    .find_map(|g| first_item(g, tags::FRAME_VOILUT_SEQUENCE).and_then(read_windows))
            })
            .unwrap_or_default();

        let palette = if photometric == "PALETTE COLOR" {
            read_palette(obj)
        } else {
            None
        };

        let desc = ImageDescription {
            rows,
            columns,
            samples_per_pixel,
            bits_allocated,
            bits_stored,
            high_bit,
            pixel_representation,
            planar_configuration,
            photometric,
            number_of_frames,
            rescale_slope,
            rescale_intercept,
            windows,
            window_explanations,
            float_pixels,
            palette,
        };
        desc.validate()?;
        Ok(desc)
    }

    /// Check that the attributes are consistent and of a layout this crate handles.
    pub fn validate(&self) -> Result<(), PixelError> {
        if self.rows == 0 {
            return Err(invalid("Rows", "0"));
        }
        if self.columns == 0 {
            return Err(invalid("Columns", "0"));
        }
        if !matches!(self.samples_per_pixel, 1 | 3) {
            return Err(PixelError::UnsupportedLayout {
                reason: format!("{} samples per pixel", self.samples_per_pixel),
            });
        }
        if self.float_pixels {
            if !matches!(self.bits_allocated, 32 | 64) {
                return Err(invalid(
                    "BitsAllocated",
                    &format!("{} for float pixels", self.bits_allocated),
                ));
            }
            return Ok(());
        }
        if !matches!(self.bits_allocated, 1 | 8 | 16 | 32) {
            return Err(PixelError::UnsupportedLayout {
                reason: format!("{} bits allocated", self.bits_allocated),
            });
        }
        if self.bits_stored == 0 || self.bits_stored > self.bits_allocated {
            return Err(invalid(
                "BitsStored",
                &format!(
                    "{} with {} bits allocated",
                    self.bits_stored, self.bits_allocated
                ),
            ));
        }
        if self.high_bit >= self.bits_allocated || self.high_bit + 1 < self.bits_stored {
            return Err(invalid(
                "HighBit",
                &format!("{} with {} bits stored", self.high_bit, self.bits_stored),
            ));
        }
        if self.pixel_representation > 1 {
            return Err(invalid(
                "PixelRepresentation",
                &self.pixel_representation.to_string(),
            ));
        }
        if self.bits_allocated == 1 && self.samples_per_pixel != 1 {
            return Err(PixelError::UnsupportedLayout {
                reason: "1-bit colour".to_owned(),
            });
        }
        Ok(())
    }

    /// Number of pixels in one frame.
    pub fn pixels_per_frame(&self) -> usize {
        usize::from(self.rows) * usize::from(self.columns)
    }

    /// Number of samples in one decoded frame (pixels × samples per pixel).
    pub fn samples_per_frame(&self) -> usize {
        self.pixels_per_frame() * usize::from(self.samples_per_pixel)
    }

    /// Bytes of one frame stored natively (bit-packed for 1-bit data; the
    /// smaller size of native YBR_FULL_422 and the retired YBR_PARTIAL_422:
    /// two luminance and one pair of chrominance values per two pixels).
    pub fn native_frame_len(&self) -> usize {
        let samples = if self.photometric.ends_with("_422") && self.samples_per_pixel == 3 {
            self.pixels_per_frame() * 2
        } else {
            self.samples_per_frame()
        };
        (samples * usize::from(self.bits_allocated)).div_ceil(8)
    }

    /// True for MONOCHROME1 and MONOCHROME2.
    pub fn is_monochrome(&self) -> bool {
        self.photometric.starts_with("MONOCHROME")
    }
}

fn invalid(keyword: &'static str, value: &str) -> PixelError {
    PixelError::InvalidAttribute {
        keyword,
        value: value.to_owned(),
    }
}

fn text_of(e: &InMemElement) -> String {
    e.to_str()
        .map(|s| s.into_owned())
        .unwrap_or_else(|_| "<binary>".to_owned())
}

fn optional_u16(
    obj: &InMemDicomObject,
    tag: dicom_core::Tag,
    keyword: &'static str,
) -> Result<Option<u16>, PixelError> {
    match obj.get(tag) {
        None => Ok(None),
        Some(e) if e.value().primitive().is_some_and(|p| p.multiplicity() == 0) => Ok(None),
        Some(e) => e
            .to_int::<u16>()
            .map(Some)
            .map_err(|_| invalid(keyword, &text_of(e))),
    }
}

fn required_u16(
    obj: &InMemDicomObject,
    tag: dicom_core::Tag,
    keyword: &'static str,
) -> Result<u16, PixelError> {
    optional_u16(obj, tag, keyword)?.ok_or(PixelError::MissingAttribute { keyword })
}

fn first_item(obj: &InMemDicomObject, seq: dicom_core::Tag) -> Option<&InMemDicomObject> {
    obj.get(seq)?.items()?.first()
}

/// Shared Functional Groups item, then the first Per-frame item.
fn functional_groups(obj: &InMemDicomObject) -> Vec<&InMemDicomObject> {
    [
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
    ]
    .into_iter()
    .filter_map(|t| first_item(obj, t))
    .collect()
}

fn f64_of(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<f64> {
    obj.get(tag)?.to_float64().ok()
}

/// The attribute at top level, else inside `macro_seq` of the functional groups.
fn find_f64(
    obj: &InMemDicomObject,
    groups: &[&InMemDicomObject],
    macro_seq: dicom_core::Tag,
    tag: dicom_core::Tag,
) -> Option<f64> {
    f64_of(obj, tag).or_else(|| {
        groups
            .iter()
            .find_map(|g| first_item(g, macro_seq).and_then(|m| f64_of(m, tag)))
    })
}

fn read_windows(obj: &InMemDicomObject) -> Option<(Vec<VoiWindow>, Vec<String>)> {
    let centers = obj.get(tags::WINDOW_CENTER)?.to_multi_float64().ok()?;
    let widths = obj.get(tags::WINDOW_WIDTH)?.to_multi_float64().ok()?;
    let explanations: Vec<String> = obj
        .get(tags::WINDOW_CENTER_WIDTH_EXPLANATION)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.split('\\').map(|p| p.trim().to_owned()).collect())
        .unwrap_or_default();
    let mut windows = Vec::new();
    let mut kept_explanations = Vec::new();
    for (i, (&center, &width)) in centers.iter().zip(widths.iter()).enumerate() {
        if center.is_finite() && width.is_finite() && width > 0.0 {
            windows.push(VoiWindow { center, width });
            if let Some(x) = explanations.get(i) {
                kept_explanations.push(x.clone());
            }
        }
    }
    if windows.is_empty() {
        None
    } else {
        Some((windows, kept_explanations))
    }
}

/// The palette: normal LUT data, else Segmented Palette Color LUT Data
/// (expanded), for each channel.
fn read_palette(obj: &InMemDicomObject) -> Option<PaletteLut> {
    let descriptor: Vec<i32> = obj
        .get(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR)?
        .to_multi_int()
        .ok()?;
    let channel = |offset: u16| -> Option<(Vec<u16>, bool)> {
        let tag = dicom_core::Tag(0x0028, tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA.1 + offset);
        if let Some(e) = obj.get(tag) {
            return Some((crate::lut::lut_words(e)?, false));
        }
        let tag = dicom_core::Tag(
            0x0028,
            tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA.1 + offset,
        );
        Some((crate::lut::lut_words(obj.get(tag)?)?, true))
    };
    let (red, green, blue) = (channel(0)?, channel(1)?, channel(2)?);
    if red.1 != green.1 || red.1 != blue.1 {
        return None;
    }
    PaletteLut::from_words(&descriptor, [&red.0, &green.0, &blue.0], red.1)
}

impl PaletteLut {
    /// A palette from its raw attributes, as a reader of DICOM JSON or bulk data has
    /// them: the Red Palette Color LUT Descriptor (the three channels share it in
    /// practice) and each channel's LUT data as little-endian 16-bit words — the
    /// Segmented Palette Color LUT Data when `segmented`. `None` when they do not
    /// make a usable table (bits other than 8 or 16, too few entries).
    pub fn from_words(
        descriptor: &[i32],
        data: [&[u16]; 3],
        segmented: bool,
    ) -> Option<PaletteLut> {
        // The first mapped value is US or SS; palettes read above 32767 as negative.
        let (count, first_mapped, bits) = crate::lut::descriptor(descriptor, true)?;
        if !matches!(bits, 8 | 16) {
            return None;
        }
        let channel = |words: &[u16]| -> Option<Vec<u16>> {
            if !segmented {
                return crate::lut::entries(words, count, bits);
            }
            let mut expanded = if bits == 8 {
                // 8-bit tables: each byte of the OW value is one entry.
                let bytes: Vec<u16> = words
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .map(u16::from)
                    .collect();
                crate::lut::expand_segmented(&bytes, 1)?
            } else {
                crate::lut::expand_segmented(words, 2)?
            };
            if expanded.len() < count {
                return None;
            }
            expanded.truncate(count);
            Some(expanded)
        };
        Some(PaletteLut {
            first_mapped,
            bits,
            red: channel(data[0])?,
            green: channel(data[1])?,
            blue: channel(data[2])?,
        })
    }
}
