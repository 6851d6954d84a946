//! Viewer ⇄ decode worker. The viewer posts a [`DecodeRequest`] (as JSON text); the
//! worker fetches the frame from WADO-RS `/frames` (any transfer syntax, as stored),
//! decodes it and answers with the samples in a transferable buffer plus a
//! [`DecodedFrame`] header, or a [`DecodeFailure`].

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

/// How decoded samples are laid out in the answer's buffer (one per pixel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TexelKind {
    I16,
    U16,
    F32,
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
    /// Smallest and largest stored sample (for a default window when the file has none).
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
