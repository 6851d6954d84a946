//! The decode worker's logic, target-independent (unit-tested natively): split a
//! WADO-RS `multipart/related` answer into its parts, and decode a frame's bytes
//! with `rangsi-pixels` into texels ready for a 16-bit (or float) GPU texture.
//! `main.rs` is the wasm32 entry point that wires this to `fetch` and `postMessage`.

pub mod multipart;

use rangsi_pixels::{FrameSamples, ImageDescription};
use rangsi_wire::decode::{PixelModule, TexelKind};

/// Explicit VR Little Endian: what a part without a `transfer-syntax` parameter is.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// Decoded samples, one per pixel, in the layout the renderer uploads.
#[derive(Debug, Clone, PartialEq)]
pub enum Texels {
    I16(Vec<i16>),
    U16(Vec<u16>),
    F32(Vec<f32>),
}

impl Texels {
    pub fn kind(&self) -> TexelKind {
        match self {
            Texels::I16(_) => TexelKind::I16,
            Texels::U16(_) => TexelKind::U16,
            Texels::F32(_) => TexelKind::F32,
        }
    }

    /// Smallest and largest sample (0, 0 when empty).
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
        }
    }
}

/// The `rangsi-pixels` description of a frame from the metadata's pixel module.
pub fn description(pixel: &PixelModule) -> ImageDescription {
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
        palette: None,
    }
}

/// Decodes one frame's bytes (as stored, in `transfer_syntax`) to texels.
pub fn decode(pixel: &PixelModule, transfer_syntax: &str, bytes: &[u8]) -> Result<Texels, String> {
    let desc = description(pixel);
    let frame =
        rangsi_pixels::decode_frame(transfer_syntax, &desc, bytes).map_err(|e| e.to_string())?;
    if frame.samples_per_pixel != 1 {
        return Err(format!(
            "{} colour images are not shown by this viewer yet",
            frame.photometric
        ));
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
        }
    }

    #[test]
    fn signed_ct_frame_decodes_to_i16_texels() {
        let values: [i16; 6] = [-1024, 0, 1, 2000, -5, 32767];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let t = decode(&ct_pixel(), EXPLICIT_VR_LE, &bytes).expect("decodes");
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
        let t = decode(&p, EXPLICIT_VR_LE, &bytes).expect("decodes");
        assert_eq!(t, Texels::U16(vec![0, 0x0FFF, 1, 5, 6, 7]));
    }

    #[test]
    fn short_frame_and_unknown_syntax_are_errors() {
        assert!(decode(&ct_pixel(), EXPLICIT_VR_LE, &[0; 5]).is_err());
        let e = decode(&ct_pixel(), "1.2.840.10008.1.2.4.100", &[0; 12])
            .expect_err("MPEG-2 video is not decodable");
        assert!(e.contains("MPEG2"), "{e}");
    }
}
