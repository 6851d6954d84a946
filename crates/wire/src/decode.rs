//! Viewer ⇄ decode worker. The viewer posts a [`DecodeRequest`] (as JSON text); the
//! worker fetches the frame from WADO-RS `/frames` (any transfer syntax, as stored),
//! decodes it and answers with the samples in a transferable buffer plus a
//! [`DecodedFrame`] header, or a [`DecodeFailure`]. Grayscale frames travel as stored
//! values (the GPU applies rescale and window), colour frames as RGBA bytes.

use serde::{Deserialize, Serialize};

/// The Image Pixel module and rescale of one instance, from its `/metadata`: what
/// the worker needs to interpret the bytes of a frame on their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PixelModule {
    pub rows: u16,
    pub columns: u16,
    pub samples_per_pixel: u16,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub high_bit: u16,
    pub pixel_representation: u16,
    pub planar_configuration: u16,
    pub photometric: String,
    pub number_of_frames: u32,
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
    pub float_pixels: bool,
    /// Transfer Syntax UID from the metadata, used when a part names none.
    pub transfer_syntax: Option<String>,
    /// The Palette Color LUT of a PALETTE COLOR image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub palette: Option<PaletteSource>,
}

/// Where a PALETTE COLOR image's lookup table is, as its `/metadata` gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaletteSource {
    /// Red Palette Color Lookup Table Descriptor (entries, first mapped, bits); the
    /// three channels share it.
    pub descriptor: Vec<i32>,
    /// The data is Segmented Palette Color LUT Data (PS3.3 C.7.9.2).
    pub segmented: bool,
    pub red: LutData,
    pub green: LutData,
    pub blue: LutData,
}

/// One channel's LUT data: inline in the metadata, or at a bulk data URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LutData {
    /// Base64 of the little-endian OW value (DICOM JSON InlineBinary).
    Inline(String),
    /// A WADO-RS bulk data URL (DICOM JSON BulkDataURI).
    Bulk(String),
}

/// Fetch and decode one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodeRequest {
    /// Chosen by the viewer; repeated in the answer.
    pub id: u32,
    /// Same-origin URL of `…/instances/{sop}/frames/{n}`.
    pub url: String,
    pub pixel: PixelModule,
}

/// How decoded samples are laid out in the answer's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TexelKind {
    /// One stored value per pixel.
    I16,
    U16,
    F32,
    /// Colour, ready to show: R, G, B, 255 bytes per pixel (YBR converted, palette
    /// applied, more than 8 bits scaled down), padded to RGBA since neither WebGPU nor
    /// WebGL2 has a 3-byte texture format.
    Rgba8,
}

impl TexelKind {
    /// Bytes per pixel in the buffer.
    pub fn bytes_per_pixel(self) -> u32 {
        match self {
            TexelKind::I16 | TexelKind::U16 => 2,
            TexelKind::F32 | TexelKind::Rgba8 => 4,
        }
    }

    pub fn is_colour(self) -> bool {
        self == TexelKind::Rgba8
    }
}

/// Header of a decoded frame; the samples travel beside it as an ArrayBuffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedFrame {
    pub id: u32,
    pub kind: TexelKind,
    pub columns: u16,
    pub rows: u16,
    /// Transfer syntax the frame arrived in.
    pub transfer_syntax: String,
    /// Smallest and largest stored sample (for a default window when the file has
    /// none); 0 and 255 for colour.
    pub min: f64,
    pub max: f64,
    /// Milliseconds spent decoding (not fetching).
    pub decode_ms: f64,
}

/// A frame that could not be fetched or decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodeFailure {
    pub id: u32,
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_texels_and_palettes_on_the_wire() {
        // A request of a viewer without palette support still reads (no palette).
        let p: PixelModule = serde_json::from_str(
            r#"{"rows":2,"columns":2,"samples_per_pixel":3,"bits_allocated":8,"bits_stored":8,
                "high_bit":7,"pixel_representation":0,"planar_configuration":0,"photometric":"RGB",
                "number_of_frames":1,"rescale_slope":1.0,"rescale_intercept":0.0,
                "float_pixels":false,"transfer_syntax":null}"#,
        )
        .expect("reads");
        assert_eq!(p.palette, None);
        let text = serde_json::to_string(&p).expect("writes");
        assert!(!text.contains("palette"), "{text}");
        let with = PixelModule {
            palette: Some(PaletteSource {
                descriptor: vec![256, 0, 16],
                segmented: false,
                red: LutData::Inline("AAE=".into()),
                green: LutData::Bulk("/bulk/00281202".into()),
                blue: LutData::Bulk("/bulk/00281203".into()),
            }),
            ..p
        };
        let text = serde_json::to_string(&with).expect("writes");
        assert!(text.contains(r#""red":{"inline":"AAE="}"#), "{text}");
        assert_eq!(
            serde_json::from_str::<PixelModule>(&text).expect("reads"),
            with
        );
        assert_eq!(
            serde_json::to_string(&TexelKind::Rgba8).expect("writes"),
            r#""rgba8""#
        );
        assert_eq!(TexelKind::Rgba8.bytes_per_pixel(), 4);
        assert!(TexelKind::Rgba8.is_colour() && !TexelKind::U16.is_colour());
    }
}
