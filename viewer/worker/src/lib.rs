//! The decode worker's logic, target-independent (unit-tested natively): split a
//! WADO-RS `multipart/related` answer into its parts, and decode a frame's bytes
//! with `rangsi-pixels` into texels ready for a GPU texture: stored values for a
//! 16-bit (or float) texture when grayscale; RGBA bytes when colour (RGB, the YBR
//! family converted to RGB, PALETTE COLOR looked up, deeper samples scaled to 8 bits —
//! `rangsi-pixels`' own `render_8bit`, the code the server's thumbnails use).
//! `main.rs` is the wasm32 entry point that wires this to `fetch` and `postMessage`.

pub mod multipart;

use base64::Engine;
use rangsi_pixels::{FrameSamples, ImageDescription, PaletteLut};
use rangsi_wire::decode::{LutData, PaletteSource, PixelModule, TexelKind};

/// Explicit VR Little Endian: what a part without a `transfer-syntax` parameter is.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// Decoded samples in the layout the renderer uploads: one stored value per pixel,
/// or four bytes (R, G, B, 255) per colour pixel.
#[derive(Debug, Clone, PartialEq)]
pub enum Texels {
    I16(Vec<i16>),
    U16(Vec<u16>),
    F32(Vec<f32>),
    Rgba8(Vec<u8>),
}

impl Texels {
    pub fn kind(&self) -> TexelKind {
        match self {
            Texels::I16(_) => TexelKind::I16,
            Texels::U16(_) => TexelKind::U16,
            Texels::F32(_) => TexelKind::F32,
            Texels::Rgba8(_) => TexelKind::Rgba8,
        }
    }

    /// Smallest and largest sample (0, 0 when empty; 0, 255 for colour).
    pub fn min_max(&self) -> (f64, f64) {
        fn fold(it: impl Iterator<Item = f64>) -> (f64, f64) {
            let (lo, hi) = it.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) }
        }
        match self {
            Texels::I16(v) => fold(v.iter().map(|&x| f64::from(x))),
            Texels::U16(v) => fold(v.iter().map(|&x| f64::from(x))),
            Texels::F32(v) => fold(v.iter().map(|&x| f64::from(x)).filter(|x| x.is_finite())),
            Texels::Rgba8(_) => (0.0, 255.0),
        }
    }
}

/// The `rangsi-pixels` description of a frame from the metadata's pixel module and,
/// for PALETTE COLOR, its palette (see [`palette`]).
pub fn description(pixel: &PixelModule, palette: Option<PaletteLut>) -> ImageDescription {
    ImageDescription {
        rows: pixel.rows,
        columns: pixel.columns,
        samples_per_pixel: pixel.samples_per_pixel,
        bits_allocated: pixel.bits_allocated,
        bits_stored: pixel.bits_stored,
        high_bit: pixel.high_bit,
        pixel_representation: pixel.pixel_representation,
        planar_configuration: pixel.planar_configuration,
        photometric: pixel.photometric.clone(),
        number_of_frames: pixel.number_of_frames,
        rescale_slope: pixel.rescale_slope,
        rescale_intercept: pixel.rescale_intercept,
        windows: Vec::new(),
        window_explanations: Vec::new(),
        float_pixels: pixel.float_pixels,
        palette,
    }
}

/// Bulk data URLs a palette's channels must be fetched from (none when inline).
pub fn palette_bulk_urls(source: &PaletteSource) -> Vec<&str> {
    [&source.red, &source.green, &source.blue]
        .into_iter()
        .filter_map(|d| match d {
            LutData::Bulk(url) => Some(url.as_str()),
            LutData::Inline(_) => None,
        })
        .collect()
}

/// The palette from its metadata description; `bulk(url)` gives the bytes of a bulk
/// data channel (fetched beforehand).
pub fn palette(
    source: &PaletteSource,
    bulk: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<PaletteLut, String> {
    let words = |d: &LutData| -> Result<Vec<u16>, String> {
        let bytes = match d {
            LutData::Inline(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("palette data is not base64: {e}"))?,
            LutData::Bulk(url) => bulk(url).ok_or_else(|| format!("palette data {url} missing"))?,
        };
        Ok(bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect())
    };
    let (r, g, b) = (
        words(&source.red)?,
        words(&source.green)?,
        words(&source.blue)?,
    );
    PaletteLut::from_words(&source.descriptor, [&r, &g, &b], source.segmented)
        .ok_or_else(|| format!("unusable palette (descriptor {:?})", source.descriptor))
}

/// Decodes one frame's bytes (as stored, in `transfer_syntax`) to texels; a PALETTE
/// COLOR frame needs its `palette`.
pub fn decode(
    pixel: &PixelModule,
    transfer_syntax: &str,
    bytes: &[u8],
    palette: Option<PaletteLut>,
) -> Result<Texels, String> {
    let desc = description(pixel, palette);
    let frame =
        rangsi_pixels::decode_frame(transfer_syntax, &desc, bytes).map_err(|e| e.to_string())?;
    if frame.samples_per_pixel != 1 || frame.photometric == "PALETTE COLOR" {
        // YBR → RGB, palette lookup and scaling to 8 bits, as for the server's
        // rendered images; padded to RGBA (no 3-byte texture format on the GPU).
        let rgb = rangsi_pixels::render_8bit(&frame, &desc, None).map_err(|e| e.to_string())?;
        if rgb.channels != 3 {
            return Err(format!("{} is not a colour image", frame.photometric));
        }
        let mut rgba = Vec::with_capacity(rgb.pixels.len() / 3 * 4);
        for p in rgb.pixels.chunks_exact(3) {
            rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
        return Ok(Texels::Rgba8(rgba));
    }
    Ok(match frame.samples {
        FrameSamples::I16(v) => Texels::I16(v),
        FrameSamples::U16(v) => Texels::U16(v),
        FrameSamples::U8(v) => Texels::U16(v.into_iter().map(u16::from).collect()),
        FrameSamples::U32(v) => Texels::F32(v.into_iter().map(|x| x as f32).collect()),
        FrameSamples::I32(v) => Texels::F32(v.into_iter().map(|x| x as f32).collect()),
        FrameSamples::F32(v) => Texels::F32(v),
        FrameSamples::F64(v) => Texels::F32(v.into_iter().map(|x| x as f32).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct_pixel() -> PixelModule {
        PixelModule {
            rows: 2,
            columns: 3,
            samples_per_pixel: 1,
            bits_allocated: 16,
            bits_stored: 16,
            high_bit: 15,
            pixel_representation: 1,
            planar_configuration: 0,
            photometric: "MONOCHROME2".into(),
            number_of_frames: 1,
            rescale_slope: 1.0,
            rescale_intercept: -1024.0,
            float_pixels: false,
            transfer_syntax: None,
            palette: None,
        }
    }

    #[test]
    fn signed_ct_frame_decodes_to_i16_texels() {
        let values: [i16; 6] = [-1024, 0, 1, 2000, -5, 32767];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let t = decode(&ct_pixel(), EXPLICIT_VR_LE, &bytes, None).expect("decodes");
        assert_eq!(t, Texels::I16(values.to_vec()));
        assert_eq!(t.min_max(), (-1024.0, 32767.0));
    }

    #[test]
    fn twelve_bit_unsigned_is_masked_to_bits_stored() {
        let mut p = ct_pixel();
        p.pixel_representation = 0;
        p.bits_stored = 12;
        p.high_bit = 11;
        // Garbage in the 4 unused high bits must not reach the texture.
        let raw: [u16; 6] = [0xF000, 0x0FFF, 0x1001, 5, 6, 7];
        let bytes: Vec<u8> = raw.iter().flat_map(|v| v.to_le_bytes()).collect();
        let t = decode(&p, EXPLICIT_VR_LE, &bytes, None).expect("decodes");
        assert_eq!(t, Texels::U16(vec![0, 0x0FFF, 1, 5, 6, 7]));
    }

    #[test]
    fn short_frame_and_unknown_syntax_are_errors() {
        assert!(decode(&ct_pixel(), EXPLICIT_VR_LE, &[0; 5], None).is_err());
        let e = decode(&ct_pixel(), "1.2.840.10008.1.2.4.100", &[0; 12], None)
            .expect_err("MPEG-2 video is not decodable");
        assert!(e.contains("MPEG2"), "{e}");
    }

    // ---- colour: fixtures of rangsi-pixels (tests/make_fixtures.sh), whose
    // rgb8.dcm holds the numpy-written original the encoders started from ----

    fn fixture(name: &str) -> dicom_object::DefaultDicomObject {
        let path = format!(
            "{}/../../crates/pixels/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        dicom_object::open_file(&path).expect("fixture opens")
    }

    fn int(obj: &dicom_object::DefaultDicomObject, tag: dicom_object::Tag) -> u16 {
        obj.element(tag)
            .expect("present")
            .to_int()
            .expect("a number")
    }

    /// The pixel module as the viewer reads it from `/metadata` (the same attributes).
    fn pixel_of(obj: &dicom_object::DefaultDicomObject) -> PixelModule {
        use dicom_dictionary_std::tags;
        PixelModule {
            rows: int(obj, tags::ROWS),
            columns: int(obj, tags::COLUMNS),
            samples_per_pixel: int(obj, tags::SAMPLES_PER_PIXEL),
            bits_allocated: int(obj, tags::BITS_ALLOCATED),
            bits_stored: int(obj, tags::BITS_STORED),
            high_bit: int(obj, tags::HIGH_BIT),
            pixel_representation: int(obj, tags::PIXEL_REPRESENTATION),
            planar_configuration: obj
                .element_opt(tags::PLANAR_CONFIGURATION)
                .ok()
                .flatten()
                .map_or(0, |e| e.to_int().expect("a number")),
            photometric: obj
                .element(tags::PHOTOMETRIC_INTERPRETATION)
                .expect("present")
                .to_str()
                .expect("text")
                .trim()
                .to_owned(),
            number_of_frames: 1,
            rescale_slope: 1.0,
            rescale_intercept: 0.0,
            float_pixels: false,
            transfer_syntax: Some(
                obj.meta()
                    .transfer_syntax()
                    .trim_end_matches('\0')
                    .to_owned(),
            ),
            palette: None,
        }
    }

    /// The first frame's bytes as stored (native, or the JPEG fragment).
    fn frame_bytes(obj: &dicom_object::DefaultDicomObject) -> Vec<u8> {
        let e = obj
            .element(dicom_dictionary_std::tags::PIXEL_DATA)
            .expect("pixel data");
        match e.value().fragments() {
            Some(f) => f.concat(),
            None => e.to_bytes().expect("bytes").into_owned(),
        }
    }

    fn rgba(t: Texels) -> Vec<u8> {
        match t {
            Texels::Rgba8(v) => v,
            other => panic!("expected colour texels, got {:?}", other.kind()),
        }
    }

    /// The numpy original: interleaved R, G, B bytes.
    fn original_rgb() -> Vec<u8> {
        frame_bytes(&fixture("rgb8.dcm"))
    }

    fn padded(rgb: &[u8]) -> Vec<u8> {
        rgb.chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect()
    }

    #[test]
    fn rgb_frame_is_rgba_as_stored_interleaved_or_by_plane() {
        let obj = fixture("rgb8.dcm");
        let pixel = pixel_of(&obj);
        let rgb = original_rgb();
        let t = decode(&pixel, EXPLICIT_VR_LE, &rgb, None).expect("decodes");
        assert_eq!(t.kind(), TexelKind::Rgba8);
        assert_eq!(t.min_max(), (0.0, 255.0));
        assert_eq!(rgba(t), padded(&rgb));

        // Planar Configuration 1: all red, then all green, then all blue.
        let mut planar = pixel.clone();
        planar.planar_configuration = 1;
        let planes: Vec<u8> = (0..3)
            .flat_map(|c| rgb.iter().skip(c).step_by(3).copied().collect::<Vec<_>>())
            .collect();
        let t = decode(&planar, EXPLICIT_VR_LE, &planes, None).expect("decodes");
        assert_eq!(rgba(t), padded(&rgb));
    }

    #[test]
    fn sixteen_bit_rgb_is_scaled_to_eight_bits() {
        let mut pixel = pixel_of(&fixture("rgb8.dcm"));
        (pixel.bits_allocated, pixel.bits_stored, pixel.high_bit) = (16, 16, 15);
        let rgb = original_rgb();
        // v·257 is v in the high byte: showing it at 8 bits must give v back.
        let bytes: Vec<u8> = rgb
            .iter()
            .flat_map(|&v| (u16::from(v) * 257).to_le_bytes())
            .collect();
        let t = decode(&pixel, EXPLICIT_VR_LE, &bytes, None).expect("decodes");
        assert_eq!(rgba(t), padded(&rgb));
    }

    #[test]
    fn ybr_full_422_jpeg_baseline_is_converted_to_rgb() {
        let obj = fixture("rgb8_jpeg_baseline_ybr.dcm");
        let pixel = pixel_of(&obj);
        assert_eq!(pixel.photometric, "YBR_FULL_422");
        let t =
            decode(&pixel, "1.2.840.10008.1.2.4.50", &frame_bytes(&obj), None).expect("decodes");
        let got = rgba(t);
        let want = padded(&original_rgb());
        assert_eq!(got.len(), want.len());
        // dcmtk encoded the original at quality 90 with 4:2:2 chroma: close, not equal,
        // and far from close if the YBR → RGB conversion were missing or wrong.
        let mse = got
            .iter()
            .zip(&want)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
            / got.len() as f64;
        let psnr = 10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10();
        assert!(psnr > 28.0, "PSNR {psnr:.1} dB");
    }

    fn palette_source(obj: &dicom_object::DefaultDicomObject, bulk: bool) -> PaletteSource {
        use base64::Engine;
        use dicom_dictionary_std::tags;
        let descriptor: Vec<i32> = obj
            .element(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR)
            .expect("descriptor")
            .to_multi_int()
            .expect("numbers");
        let data = |tag| {
            let bytes = obj
                .element(tag)
                .expect("LUT data")
                .to_bytes()
                .expect("bytes");
            if bulk {
                LutData::Bulk(format!("/bulk/{tag}"))
            } else {
                LutData::Inline(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        };
        PaletteSource {
            descriptor,
            segmented: true,
            red: data(tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA),
            green: data(tags::SEGMENTED_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA),
            blue: data(tags::SEGMENTED_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA),
        }
    }

    #[test]
    fn palette_colour_matches_pydicom_inline_or_bulk() {
        use dicom_dictionary_std::tags;
        let obj = fixture("palette_seg.dcm");
        let mut pixel = pixel_of(&obj);
        assert_eq!(pixel.photometric, "PALETTE COLOR");
        // pydicom's apply_color_lut, 16 bits per channel (tests/make_fixtures.sh).
        let path = format!(
            "{}/../../crates/pixels/tests/fixtures/palette_seg.ref.raw",
            env!("CARGO_MANIFEST_DIR")
        );
        let reference = std::fs::read(path).expect("reference");
        let want: Vec<u8> = reference
            .chunks_exact(2)
            .map(|c| (u16::from_le_bytes([c[0], c[1]]) >> 8) as u8)
            .collect::<Vec<_>>();
        let bytes = frame_bytes(&obj);

        // Without its palette a PALETTE COLOR frame is an error, not a gray image.
        assert!(decode(&pixel, EXPLICIT_VR_LE, &bytes, None).is_err());

        let inline = palette_source(&obj, false);
        assert!(palette_bulk_urls(&inline).is_empty());
        let lut = palette(&inline, |_| None).expect("inline palette");
        pixel.palette = Some(inline);
        let t = decode(&pixel, EXPLICIT_VR_LE, &bytes, Some(lut)).expect("decodes");
        assert_eq!(rgba(t), padded(&want));

        // The same palette given as bulk data URLs (a 16-bit table above 1 KiB).
        let source = palette_source(&obj, true);
        assert_eq!(palette_bulk_urls(&source).len(), 3);
        let fetched = |url: &str| {
            [
                tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                tags::SEGMENTED_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                tags::SEGMENTED_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            ]
            .into_iter()
            .find(|t| url == format!("/bulk/{t}"))
            .map(|t| {
                obj.element(t)
                    .expect("data")
                    .to_bytes()
                    .expect("bytes")
                    .into_owned()
            })
        };
        let lut = palette(&source, fetched).expect("bulk palette");
        let t = decode(&pixel, EXPLICIT_VR_LE, &bytes, Some(lut)).expect("decodes");
        assert_eq!(rgba(t), padded(&want));
        assert!(palette(&source, |_| None).is_err(), "bulk data not fetched");
    }
}
