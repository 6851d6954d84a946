//! Pixel decoding for Rangsi: DICOM frames to sample arrays and to 8-bit
//! display images. Pure Rust, no I/O, builds for `wasm32-unknown-unknown`.
//!
//! The server reads an [`ImageDescription`] once per instance, then decodes
//! each frame from its bytes alone with [`decode_frame`] (WADO-RS frames,
//! rendered thumbnails), and the viewer can do the same in the browser.
//!
//! Decodable transfer syntaxes ([`can_decode`]): the native ones (Implicit
//! and Explicit VR Little Endian, Explicit VR Big Endian, Deflated, and
//! Encapsulated Uncompressed), RLE Lossless, JPEG Baseline, Extended,
//! Lossless and Lossless SV1, JPEG-LS (lossless and near-lossless), JPEG 2000
//! (lossless and lossy) and HTJ2K.
//! Everything else is a [`PixelError::UnsupportedTransferSyntax`] naming the syntax.
//! [`decode_frame_vr`] also takes the stored Pixel Data VR, which changes the
//! bytes of 8-bit data in OW under Explicit VR Big Endian ([`PixelDataVr`]).
//!
//! Display: [`render_8bit`] (rescale, linear window, MONOCHROME1, colour and
//! palettes incl. segmented ones) and [`render_8bit_with`], which adds the rest
//! of the greyscale pipeline read by [`GreyscalePipeline::from_object`]:
//! Modality LUT Sequence, VOI LUT Function (LINEAR_EXACT, SIGMOID), VOI LUT
//! Sequence and Presentation LUT Shape.
//!
//! Features: `wasm-libc-shims` (default) provides `malloc`/`free`/… for
//! `openjp2` on `wasm32-unknown-unknown`, which has no libc; turn it off only
//! if the final wasm binary links its own. Everything builds for wasm32.
//!
//! Testing: the integration tests (`tests/it`, fixtures embedded) run both
//! natively and as wasm32 in headless Chromium, against the same oracles:
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p rangsi-pixels --target
//! wasm32-unknown-unknown` with `wasm-bindgen-test-runner` (wasm-bindgen-cli
//! of the version in Cargo.lock) on `PATH`; Chrome's flags are in
//! `webdriver.json`. `cargo xtask test` installs all that and runs both.
//! `fuzz/` holds a cargo-fuzz target for [`decode_frame`] with arbitrary
//! syntax, description and bytes: `cargo xtask fuzz [SECONDS]`.

mod description;
mod error;
mod frame;
mod j2k;
mod jpeg;
mod jpeg12;
mod jpegls;
mod lut;
mod native;
mod render;
mod rle;
#[cfg(all(
    target_family = "wasm",
    target_os = "unknown",
    feature = "wasm-libc-shims"
))]
mod wasm_shims;

pub use description::{ImageDescription, PaletteLut, VoiWindow};
pub use error::PixelError;
pub use frame::{Frame, FrameSamples};
pub use lut::{GreyscalePipeline, Lut, PresentationLutShape, Voi, VoiFunction};
pub use render::{Rendered8, render_8bit, render_8bit_with};

/// Largest frame accepted (samples per frame), bounding what a corrupt
/// description or stream can make the decoders allocate.
pub const MAX_FRAME_SAMPLES: u64 = 1 << 28;

/// How a transfer syntax's frames are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    NativeLe,
    NativeBe,
    Rle,
    Jpeg,
    JpegLs,
    J2k,
    None,
}

/// Known transfer syntaxes: UID, name, codec.
const TRANSFER_SYNTAXES: &[(&str, &str, Codec)] = &[
    (
        "1.2.840.10008.1.2",
        "Implicit VR Little Endian",
        Codec::NativeLe,
    ),
    (
        "1.2.840.10008.1.2.1",
        "Explicit VR Little Endian",
        Codec::NativeLe,
    ),
    (
        "1.2.840.10008.1.2.1.98",
        "Encapsulated Uncompressed Explicit VR Little Endian",
        Codec::NativeLe,
    ),
    (
        "1.2.840.10008.1.2.1.99",
        "Deflated Explicit VR Little Endian",
        Codec::NativeLe,
    ),
    (
        "1.2.840.10008.1.2.2",
        "Explicit VR Big Endian",
        Codec::NativeBe,
    ),
    ("1.2.840.10008.1.2.5", "RLE Lossless", Codec::Rle),
    (
        "1.2.840.10008.1.2.4.50",
        "JPEG Baseline (Process 1)",
        Codec::Jpeg,
    ),
    (
        "1.2.840.10008.1.2.4.51",
        "JPEG Extended (Process 2 & 4)",
        Codec::Jpeg,
    ),
    (
        "1.2.840.10008.1.2.4.57",
        "JPEG Lossless, Non-Hierarchical (Process 14)",
        Codec::Jpeg,
    ),
    (
        "1.2.840.10008.1.2.4.70",
        "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
        Codec::Jpeg,
    ),
    (
        "1.2.840.10008.1.2.4.80",
        "JPEG-LS Lossless Image Compression",
        Codec::JpegLs,
    ),
    (
        "1.2.840.10008.1.2.4.81",
        "JPEG-LS Lossy (Near-Lossless) Image Compression",
        Codec::JpegLs,
    ),
    (
        "1.2.840.10008.1.2.4.90",
        "JPEG 2000 Image Compression (Lossless Only)",
        Codec::J2k,
    ),
    (
        "1.2.840.10008.1.2.4.91",
        "JPEG 2000 Image Compression",
        Codec::J2k,
    ),
    (
        "1.2.840.10008.1.2.4.92",
        "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.93",
        "JPEG 2000 Part 2 Multi-component Image Compression",
        Codec::None,
    ),
    ("1.2.840.10008.1.2.4.94", "JPIP Referenced", Codec::None),
    (
        "1.2.840.10008.1.2.4.95",
        "JPIP Referenced Deflate",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.100",
        "MPEG2 Main Profile / Main Level",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.101",
        "MPEG2 Main Profile / High Level",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.102",
        "MPEG-4 AVC/H.264 High Profile / Level 4.1",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.103",
        "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.104",
        "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.105",
        "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.106",
        "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.107",
        "HEVC/H.265 Main Profile / Level 5.1",
        Codec::None,
    ),
    (
        "1.2.840.10008.1.2.4.108",
        "HEVC/H.265 Main 10 Profile / Level 5.1",
        Codec::None,
    ),
    ("1.2.840.10008.1.2.4.110", "JPEG XL Lossless", Codec::None),
    (
        "1.2.840.10008.1.2.4.111",
        "JPEG XL JPEG Recompression",
        Codec::None,
    ),
    ("1.2.840.10008.1.2.4.112", "JPEG XL", Codec::None),
    (
        "1.2.840.10008.1.2.4.201",
        "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
        Codec::J2k,
    ),
    (
        "1.2.840.10008.1.2.4.202",
        "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
        Codec::J2k,
    ),
    (
        "1.2.840.10008.1.2.4.203",
        "High-Throughput JPEG 2000 Image Compression",
        Codec::J2k,
    ),
    (
        "1.2.840.10008.1.2.8.1",
        "Deflated Image Frame Compression",
        Codec::None,
    ),
];

fn lookup(ts_uid: &str) -> Option<(&'static str, Codec)> {
    let uid = ts_uid.trim_end_matches(['\0', ' ']).trim();
    TRANSFER_SYNTAXES
        .iter()
        .find(|(u, _, _)| *u == uid)
        .map(|&(_, name, codec)| (name, codec))
}

/// The name of a transfer syntax, if it is a known one.
pub fn transfer_syntax_name(ts_uid: &str) -> Option<&'static str> {
    lookup(ts_uid).map(|(name, _)| name)
}

/// True when [`decode_frame`] can decode this transfer syntax.
pub fn can_decode(ts_uid: &str) -> bool {
    lookup(ts_uid).is_some_and(|(_, codec)| codec != Codec::None)
}

/// True for transfer syntaxes whose frames are stored uncompressed.
pub fn is_native(ts_uid: &str) -> bool {
    matches!(lookup(ts_uid), Some((_, Codec::NativeLe | Codec::NativeBe)))
}

/// The Value Representation of the Pixel Data element (7FE0,0010) as stored.
///
/// It matters in one case only: native Explicit VR Big Endian with 8 or fewer
/// bits allocated. An OW value is a stream of 16-bit words, each written most
/// significant byte first, so two consecutive 8-bit samples (or bit-packed
/// bytes) arrive swapped; an OB value is a plain byte stream (PS3.5 7.3 and
/// 8.1.1). Every other syntax and bit depth decodes the same for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PixelDataVr {
    /// Other Byte (always used for encapsulated data).
    #[default]
    Ob,
    /// Other Word.
    Ow,
}

/// Decode ONE frame from just its bytes, Pixel Data taken as OB (see
/// [`decode_frame_vr`] for 8-bit data stored as OW in Explicit VR Big Endian).
///
/// For native transfer syntaxes (Implicit VR LE, Explicit VR LE, Explicit VR
/// BE, Deflated) `frame_bytes` are the raw frame bytes as stored (byte order
/// of that syntax; Deflated means the inflated, little-endian bytes). For
/// encapsulated syntaxes they are the concatenation of that frame's
/// fragments (one codestream).
pub fn decode_frame(
    ts_uid: &str,
    desc: &ImageDescription,
    frame_bytes: &[u8],
) -> Result<Frame, PixelError> {
    decode_frame_vr(ts_uid, desc, PixelDataVr::Ob, frame_bytes)
}

/// [`decode_frame`] knowing the VR of the stored Pixel Data. With
/// [`PixelDataVr::Ow`], Explicit VR Big Endian and 8 or fewer bits allocated,
/// the words are swapped back to bytes first: `frame_bytes` must then start
/// on a word boundary of the value and, for a frame of odd length, include
/// the byte after it (the value's padding, or the next frame's first byte),
/// since the frame's last sample is stored in the second byte of its word.
/// A frame that starts mid-word (frames after the first of an odd frame
/// length) is un-swapped by the caller with [`swap_ow_bytes`] over the
/// whole words around it and decoded as OB.
pub fn decode_frame_vr(
    ts_uid: &str,
    desc: &ImageDescription,
    vr: PixelDataVr,
    frame_bytes: &[u8],
) -> Result<Frame, PixelError> {
    let unsupported = |name: &str| PixelError::UnsupportedTransferSyntax {
        ts_uid: ts_uid.trim_end_matches(['\0', ' ']).to_owned(),
        name: name.to_owned(),
    };
    let Some((name, codec)) = lookup(ts_uid) else {
        return Err(unsupported("unknown transfer syntax"));
    };
    desc.validate()?;
    let samples = desc.samples_per_frame() as u64;
    if samples > MAX_FRAME_SAMPLES {
        return Err(PixelError::FrameTooLarge {
            samples,
            limit: MAX_FRAME_SAMPLES,
        });
    }
    match codec {
        Codec::NativeLe => native::decode(desc, frame_bytes, false),
        Codec::NativeBe if vr == PixelDataVr::Ow && desc.bits_allocated <= 8 => {
            let words = desc.native_frame_len().next_multiple_of(2);
            if frame_bytes.len() < words {
                return Err(PixelError::FrameTooShort {
                    expected: words,
                    actual: frame_bytes.len(),
                });
            }
            let mut bytes = frame_bytes[..words].to_vec();
            swap_ow_bytes(&mut bytes);
            native::decode(desc, &bytes, true)
        }
        Codec::NativeBe => native::decode(desc, frame_bytes, true),
        Codec::Rle => rle::decode(desc, frame_bytes),
        Codec::Jpeg => jpeg::decode(desc, frame_bytes),
        Codec::JpegLs => jpegls::decode(desc, frame_bytes),
        Codec::J2k => {
            // Only the lossless-only syntaxes promise a sample-exact stream.
            let lossless = matches!(
                ts_uid.trim_end_matches(['\0', ' ']).trim(),
                "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202"
            );
            j2k::decode(desc, frame_bytes, lossless)
        }
        Codec::None => Err(unsupported(name)),
    }
}

/// Turn big-endian 16-bit words (an OW value in Explicit VR Big Endian) into
/// the byte stream they carry: each pair of bytes swapped in place; a last
/// odd byte stays as it is.
pub fn swap_ow_bytes(bytes: &mut [u8]) {
    bytes.chunks_exact_mut(2).for_each(|w| w.swap(0, 1));
}

/// Run a third-party decoder, turning a panic inside it into an error (on
/// targets that unwind) so one corrupt frame cannot take the server down.
pub(crate) fn guard<T>(codec: &'static str, f: impl FnOnce() -> T) -> Result<T, PixelError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| PixelError::Codec {
        codec,
        message: "decoder panicked on this stream".to_owned(),
    })
}
