//! The decode loop of `cargo xtask bench pixels`, shared by its two halves: the
//! wasm-bindgen exports the benchmark page calls in headless Chromium ([`FrameDecoder`],
//! wasm32 only) and the native binary (`src/bin/native.rs`). Both call
//! [`rangsi_pixels::decode_frame`] on one frame's bytes, exactly as the server and
//! the viewer do, and check the samples with the same [`checksum`] as the page and
//! `crates/xtask/bench-pixels/prepare.py`.
//!
//! Not a library for the product: it exists only for the benchmark, so it is not a
//! default workspace member. Builds natively and for `wasm32-unknown-unknown`.

use rangsi_pixels::{FrameSamples, ImageDescription};

/// The attributes a benchmark frame needs (the test frames are monochrome, one
/// frame per instance, no rescale or window: those do not change decoding).
pub fn description(
    rows: u16,
    columns: u16,
    bits_allocated: u16,
    bits_stored: u16,
    high_bit: u16,
    pixel_representation: u16,
    photometric: &str,
) -> ImageDescription {
    ImageDescription {
        rows,
        columns,
        samples_per_pixel: 1,
        bits_allocated,
        bits_stored,
        high_bit,
        pixel_representation,
        planar_configuration: 0,
        photometric: photometric.trim().to_ascii_uppercase(),
        number_of_frames: 1,
        rescale_slope: 1.0,
        rescale_intercept: 0.0,
        windows: Vec::new(),
        window_explanations: Vec::new(),
        float_pixels: false,
        palette: None,
    }
}

/// `(Σ v, Σ v·((i mod 65521) + 1))` over the samples in order: catches a wrong
/// sign, byte order or pixel order. `None` for float samples.
pub fn checksum(samples: &FrameSamples) -> Option<(i64, i64)> {
    fn sums(values: impl Iterator<Item = i64>) -> (i64, i64) {
        values.enumerate().fold((0, 0), |(s, w), (i, v)| {
            (s + v, w + v * ((i % 65521) as i64 + 1))
        })
    }
    Some(match samples {
        FrameSamples::U8(v) => sums(v.iter().map(|&x| i64::from(x))),
        FrameSamples::U16(v) => sums(v.iter().map(|&x| i64::from(x))),
        FrameSamples::I16(v) => sums(v.iter().map(|&x| i64::from(x))),
        FrameSamples::U32(v) => sums(v.iter().map(|&x| i64::from(x))),
        FrameSamples::I32(v) => sums(v.iter().map(|&x| i64::from(x))),
        FrameSamples::F32(_) | FrameSamples::F64(_) => return None,
    })
}

#[cfg(target_arch = "wasm32")]
mod web {
    use rangsi_pixels::{FrameSamples, ImageDescription, decode_frame};
    use wasm_bindgen::prelude::*;

    /// Decodes frames of one transfer syntax and description, from JavaScript.
    #[wasm_bindgen]
    pub struct FrameDecoder {
        ts_uid: String,
        desc: ImageDescription,
    }

    #[wasm_bindgen]
    impl FrameDecoder {
        #[wasm_bindgen(constructor)]
        #[allow(clippy::too_many_arguments)]
        pub fn new(
            ts_uid: String,
            rows: u16,
            columns: u16,
            bits_allocated: u16,
            bits_stored: u16,
            high_bit: u16,
            pixel_representation: u16,
            photometric: String,
        ) -> FrameDecoder {
            FrameDecoder {
                ts_uid,
                desc: super::description(
                    rows,
                    columns,
                    bits_allocated,
                    bits_stored,
                    high_bit,
                    pixel_representation,
                    &photometric,
                ),
            }
        }

        /// Decodes one frame of signed 16-bit samples into a new `Int16Array`
        /// (copied out of wasm memory, as Cornerstone's loaders copy their codecs' output).
        pub fn decode_i16(&self, frame: &[u8]) -> Result<Vec<i16>, JsError> {
            match self.decode(frame)? {
                FrameSamples::I16(v) => Ok(v),
                other => Err(kind_error("I16", &other)),
            }
        }

        /// Decodes one frame of unsigned 16-bit samples into a new `Uint16Array`.
        pub fn decode_u16(&self, frame: &[u8]) -> Result<Vec<u16>, JsError> {
            match self.decode(frame)? {
                FrameSamples::U16(v) => Ok(v),
                other => Err(kind_error("U16", &other)),
            }
        }

        /// Decodes one frame of unsigned 8-bit samples into a new `Uint8Array`.
        pub fn decode_u8(&self, frame: &[u8]) -> Result<Vec<u8>, JsError> {
            match self.decode(frame)? {
                FrameSamples::U8(v) => Ok(v),
                other => Err(kind_error("U8", &other)),
            }
        }
    }

    impl FrameDecoder {
        fn decode(&self, frame: &[u8]) -> Result<FrameSamples, JsError> {
            decode_frame(&self.ts_uid, &self.desc, frame)
                .map(|f| f.samples)
                .map_err(|e| JsError::new(&e.to_string()))
        }
    }

    fn kind_error(wanted: &str, got: &FrameSamples) -> JsError {
        let got = match got {
            FrameSamples::U8(_) => "U8",
            FrameSamples::U16(_) => "U16",
            FrameSamples::I16(_) => "I16",
            FrameSamples::U32(_) => "U32",
            FrameSamples::I32(_) => "I32",
            FrameSamples::F32(_) => "F32",
            FrameSamples::F64(_) => "F64",
        };
        JsError::new(&format!("decoded {got} samples, expected {wanted}"))
    }
}
