//! Integration tests for rangsi-pixels against committed fixtures made by
//! third-party encoders (`tests/make_fixtures.sh`). The oracle is always the
//! original uncompressed file's native bytes (or, for dcmtk's rescaling lossy
//! encodes, pydicom/pylibjpeg's decode), never this crate's own output.
//!
//! The same tests run natively (`cargo test -p rangsi-pixels`) and as wasm32
//! in headless Chromium (`cargo test -p rangsi-pixels --target
//! wasm32-unknown-unknown`, see the crate docs): fixtures are embedded
//! ([`fixtures`]), and on wasm32 each module imports `wasm_bindgen_test as
//! test`, so every `#[test]` below is a wasm-bindgen test there. A new test
//! module needs that import too.

mod fixtures;
mod frames;
mod fuzzed;
mod jpegls;
mod luts;
mod synthetic;

use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use rangsi_pixels::{
    FrameSamples, ImageDescription, PixelError, VoiWindow, can_decode, decode_frame, render_8bit,
};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// A fixture: transfer syntax, description, and the one frame's bytes.
struct Fixture {
    ts: String,
    desc: ImageDescription,
    frame: Vec<u8>,
}

fn load(name: &str) -> Fixture {
    let bytes = fixtures::bytes(name);
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .from_reader(bytes)
        .expect("fixture parses");
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_owned();
    let desc = ImageDescription::from_object(&obj).expect("description");
    let pixel_data = obj.element(tags::PIXEL_DATA).expect("pixel data");
    let frame = match pixel_data.fragments() {
        // Single-frame fixtures: the frame is all fragments together.
        Some(fragments) => fragments.iter().flat_map(|f| f.iter().copied()).collect(),
        // Native: Pixel Data is the last element, so the frame is the file's
        // last bytes exactly as stored (in the file's byte order).
        None => bytes[bytes.len() - desc.native_frame_len()..].to_vec(),
    };
    Fixture { ts, desc, frame }
}

/// Sample values of an uncompressed little-endian original, computed here
/// from the bytes and the description (mask to Bits Stored, sign-extend).
fn original_values(name: &str) -> Vec<i64> {
    let f = load(name);
    assert_eq!(
        f.ts, "1.2.840.10008.1.2.1",
        "{name} must be an Explicit VR LE original"
    );
    let d = &f.desc;
    let width = usize::from(d.bits_allocated / 8);
    f.frame
        .chunks_exact(width)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..width].copy_from_slice(c);
            let raw = u64::from_le_bytes(b) & ((1u64 << d.bits_stored) - 1);
            let sign = 1u64 << (d.bits_stored - 1);
            if d.pixel_representation == 1 && raw & sign != 0 {
                raw as i64 - (1i64 << d.bits_stored)
            } else {
                raw as i64
            }
        })
        .collect()
}

fn values(s: &FrameSamples) -> Vec<i64> {
    match s {
        FrameSamples::U8(v) => v.iter().map(|&x| i64::from(x)).collect(),
        FrameSamples::U16(v) => v.iter().map(|&x| i64::from(x)).collect(),
        FrameSamples::I16(v) => v.iter().map(|&x| i64::from(x)).collect(),
        FrameSamples::U32(v) => v.iter().map(|&x| i64::from(x)).collect(),
        FrameSamples::I32(v) => v.iter().map(|&x| i64::from(x)).collect(),
        FrameSamples::F32(_) | FrameSamples::F64(_) => {
            panic!("float samples in an integer fixture")
        }
    }
}

fn decode(name: &str) -> (Fixture, rangsi_pixels::Frame) {
    let f = load(name);
    assert!(can_decode(&f.ts), "{name}: {} should be decodable", f.ts);
    let frame = decode_frame(&f.ts, &f.desc, &f.frame)
        .unwrap_or_else(|e| panic!("{name} ({}) failed to decode: {e}", f.ts));
    (f, frame)
}

/// Decoding `name` must give exactly the samples of `original`.
fn assert_bit_exact(name: &str, original: &str) {
    let (f, frame) = decode(name);
    let expected = original_values(original);
    let got = values(&frame.samples);
    assert_eq!(got.len(), expected.len(), "{name}: sample count");
    let diffs = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert_eq!(
        diffs,
        0,
        "{name}: {diffs} samples differ from {original}; first got {:?}, expected {:?}",
        &got[..8.min(got.len())],
        &expected[..8.min(expected.len())]
    );
    assert_eq!(frame.rows, f.desc.rows);
    assert_eq!(frame.columns, f.desc.columns);
    assert_eq!(frame.samples_per_pixel, f.desc.samples_per_pixel);
}

fn psnr(got: &[i64], expected: &[i64], peak: f64) -> f64 {
    assert_eq!(got.len(), expected.len());
    let mse = got
        .iter()
        .zip(expected)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum::<f64>()
        / got.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (peak * peak / mse).log10()
    }
}

// ---- native ----

#[test]
fn native_le_signed_16() {
    assert_bit_exact("ct16s.dcm", "ct16s.dcm");
    let (_, frame) = decode("ct16s.dcm");
    let FrameSamples::I16(v) = &frame.samples else {
        panic!("expected I16, got {:?}", frame.samples)
    };
    assert_eq!(&v[..4], &[-32768, 32767, -1, 0]);
}

#[test]
fn native_big_endian() {
    let f = load("ct16s_be.dcm");
    assert_eq!(f.ts, "1.2.840.10008.1.2.2");
    assert_bit_exact("ct16s_be.dcm", "ct16s.dcm");
}

#[test]
fn native_signed_12_bit_is_sign_extended() {
    assert_bit_exact("ct12s.dcm", "ct12s.dcm");
    let (_, frame) = decode("ct12s.dcm");
    let v = values(&frame.samples);
    assert!(
        v.iter().any(|&x| x < -900),
        "air must be negative, got min {:?}",
        v.iter().min()
    );
}

#[test]
fn native_u32_and_rgb() {
    assert_bit_exact("u32.dcm", "u32.dcm");
    assert_bit_exact("rgb8.dcm", "rgb8.dcm");
}

#[test]
fn to_native_le_bytes_round_trips_the_original() {
    for (name, original) in [
        ("ct16s_jpll_sv1.dcm", "ct16s.dcm"),
        ("ct16s_rle.dcm", "ct16s.dcm"),
        ("ct16s_be.dcm", "ct16s.dcm"),
        ("rgb8_rle.dcm", "rgb8.dcm"),
        ("u32_rle.dcm", "u32.dcm"),
        ("mono8_jpll_sv1.dcm", "mono8.dcm"),
    ] {
        let (f, frame) = decode(name);
        assert_eq!(
            frame.to_native_le_bytes(&f.desc),
            load(original).frame,
            "{name}"
        );
    }
}

// ---- RLE ----

#[test]
fn rle_bit_exact() {
    assert_bit_exact("ct16s_rle.dcm", "ct16s.dcm");
    assert_bit_exact("ct12s_rle.dcm", "ct12s.dcm");
    assert_bit_exact("mono8_rle.dcm", "mono8.dcm");
    assert_bit_exact("rgb8_rle.dcm", "rgb8.dcm");
    assert_bit_exact("u32_rle.dcm", "u32.dcm");
}

#[test]
fn rle_truncated_is_an_error() {
    let f = load("ct16s_rle.dcm");
    let result = decode_frame(&f.ts, &f.desc, &f.frame[..f.frame.len() / 2]);
    assert!(
        matches!(result, Err(PixelError::Codec { .. })),
        "{result:?}"
    );
}

// ---- JPEG lossless ----

#[test]
fn jpeg_lossless_sv1_bit_exact() {
    assert_bit_exact("ct16s_jpll_sv1.dcm", "ct16s.dcm");
    assert_bit_exact("ct12s_jpll_sv1.dcm", "ct12s.dcm");
    assert_bit_exact("mono8_jpll_sv1.dcm", "mono8.dcm");
    assert_bit_exact("rgb8_jpll_sv1.dcm", "rgb8.dcm");
}

#[test]
fn jpeg_lossless_all_predictors_bit_exact() {
    for sv in 2..=7 {
        let name = format!("ct16s_jpll_p{sv}.dcm");
        assert_eq!(load(&name).ts, "1.2.840.10008.1.2.4.57");
        assert_bit_exact(&name, "ct16s.dcm");
    }
}

#[test]
fn jpeg_truncated_is_an_error() {
    let f = load("ct16s_jpll_sv1.dcm");
    assert!(decode_frame(&f.ts, &f.desc, &f.frame[..40]).is_err());
    assert!(decode_frame(&f.ts, &f.desc, b"not a jpeg").is_err());
}

// ---- JPEG lossy ----

/// Compare with a reference decode by pylibjpeg (raw LE of the sample width).
fn assert_close_to_reference(name: &str, max_abs: i64) {
    let (f, frame) = decode(name);
    let raw = fixtures::bytes(&name.replace(".dcm", ".ref.raw"));
    let expected: Vec<i64> = match f.desc.bits_allocated {
        8 => raw.iter().map(|&b| i64::from(b)).collect(),
        _ => raw
            .chunks_exact(2)
            .map(|c| i64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
    };
    let got = values(&frame.samples);
    assert_eq!(got.len(), expected.len());
    let worst = got
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .max()
        .unwrap_or(0);
    assert!(
        worst <= max_abs,
        "{name}: max |diff| {worst} vs reference decoder"
    );
}

#[test]
fn jpeg_baseline_grey_matches_reference_decoder() {
    assert_close_to_reference("mono8_jpeg_baseline.dcm", 1);
}

#[test]
fn jpeg_baseline_ybr_colour_is_rgb_after_decode() {
    let (_, frame) = decode("rgb8_jpeg_baseline_ybr.dcm");
    assert_eq!(frame.photometric, "RGB");
    let p = psnr(&values(&frame.samples), &original_values("rgb8.dcm"), 255.0);
    assert!(p > 28.0, "PSNR {p:.1} dB");
}

#[test]
fn jpeg_baseline_rgb_without_colour_transform_keeps_colours() {
    let (_, frame) = decode("rgb8_jpeg_baseline_rgb.dcm");
    assert_eq!(frame.photometric, "RGB");
    let p = psnr(&values(&frame.samples), &original_values("rgb8.dcm"), 255.0);
    assert!(p > 40.0, "PSNR {p:.1} dB");
}

#[test]
fn jpeg_extended_12_bit_matches_reference_decoder() {
    assert_close_to_reference("ct12u_jpeg_extended.dcm", 2);
}

// ---- JPEG 2000 / HTJ2K ----

#[test]
fn jpeg2000_lossless_bit_exact() {
    assert_bit_exact("ct16s_j2k.dcm", "ct16s.dcm");
    assert_bit_exact("ct12s_j2k.dcm", "ct12s.dcm");
    assert_bit_exact("rgb8_j2k.dcm", "rgb8.dcm");
}

#[test]
fn jpeg2000_lossy_close() {
    let (_, frame) = decode("ct16s_j2k_lossy.dcm");
    let p = psnr(
        &values(&frame.samples),
        &original_values("ct16s.dcm"),
        65535.0,
    );
    assert!(p > 50.0, "PSNR {p:.1} dB");
}

#[test]
fn htj2k_lossless_bit_exact() {
    assert_bit_exact("ct12u_htj2k.dcm", "ct12u.dcm");
}

/// 37 x 29 with 16 x 16 tiles and the image origin at (3, 5) (OpenJPEG's `opj_compress`,
/// OpenJPH's `ojph_compress`): resolutions starting on odd rows and columns take the
/// other lifting parity, and tiles narrower than 8 columns the vendored openjp2's
/// partial blocks (crates/vendor/openjp2/RANGSI.md).
#[test]
fn jpeg2000_and_htj2k_odd_sizes_tiles_and_offsets_bit_exact() {
    assert_bit_exact("odd16s_j2k_tiles.dcm", "odd16s.dcm");
    assert_bit_exact("odd16s_htj2k_tiles.dcm", "odd16s.dcm");
}

/// OpenJPH 0.9 codes the two's-complement bit patterns of signed samples
/// (its YUV reader ignores `-signed`), which conforming decoders clip; the
/// crate widens the SIZ precision of reversible streams and masks (see
/// `j2k.rs`), so the original comes back exactly. The same path decodes
/// gdcm's conforming signed J2K (`jpeg2000_lossless_bit_exact`) unchanged.
#[test]
fn htj2k_lossless_signed_16_bit_exact() {
    assert_bit_exact("ct16s_htj2k.dcm", "ct16s.dcm");
}

#[test]
fn htj2k_lossy_colour_close() {
    let (_, frame) = decode("rgb8_htj2k_lossy.dcm");
    assert_eq!(frame.photometric, "RGB");
    let p = psnr(&values(&frame.samples), &original_values("rgb8.dcm"), 255.0);
    assert!(p > 40.0, "PSNR {p:.1} dB");
}

#[test]
fn jpeg2000_truncated_is_an_error() {
    let f = load("ct16s_j2k.dcm");
    let err = decode_frame(&f.ts, &f.desc, &f.frame[..f.frame.len() / 2]);
    assert!(
        err.is_err(),
        "truncated J2K must not decode to a blurred image"
    );
}

// ---- syntaxes without a fixture of their own ----

/// Native syntaxes whose frames are the Explicit VR Little Endian bytes: in
/// Implicit VR LE and Encapsulated Uncompressed they are stored the same, and
/// Deflated hands over the inflated data set's bytes.
const SAME_FRAME_AS_EXPLICIT_LE: &[&str] = &[
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1.98",
    "1.2.840.10008.1.2.1.99",
];

#[test]
fn other_native_little_endian_syntaxes_decode_the_same_bytes() {
    let f = load("ct16s.dcm");
    let expected = original_values("ct16s.dcm");
    for ts in SAME_FRAME_AS_EXPLICIT_LE {
        let frame = decode_frame(ts, &f.desc, &f.frame).unwrap_or_else(|e| panic!("{ts}: {e}"));
        assert_eq!(values(&frame.samples), expected, "{ts}");
    }
}

/// HTJ2K with RPCL progression (.4.202): OpenJPH writes RPCL by default, so
/// the `.4.201` fixture's codestream is also a valid `.4.202` one.
const HTJ2K_RPCL: &str = "1.2.840.10008.1.2.4.202";

#[test]
fn htj2k_rpcl_lossless_bit_exact() {
    let f = load("ct12u_htj2k.dcm");
    let frame = decode_frame(HTJ2K_RPCL, &f.desc, &f.frame).expect("decode");
    assert_eq!(values(&frame.samples), original_values("ct12u.dcm"));
}

/// Every transfer syntax of PS3.6 this crate claims to decode must have a
/// fixture (or be one of the aliases above), so that its decoding is tested
/// here, natively and in the browser.
#[test]
fn every_decodable_syntax_is_exercised() {
    const ALL: &[&str] = &[
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.1.98",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.92",
        "1.2.840.10008.1.2.4.93",
        "1.2.840.10008.1.2.4.94",
        "1.2.840.10008.1.2.4.95",
        "1.2.840.10008.1.2.4.100",
        "1.2.840.10008.1.2.4.101",
        "1.2.840.10008.1.2.4.102",
        "1.2.840.10008.1.2.4.103",
        "1.2.840.10008.1.2.4.104",
        "1.2.840.10008.1.2.4.105",
        "1.2.840.10008.1.2.4.106",
        "1.2.840.10008.1.2.4.107",
        "1.2.840.10008.1.2.4.108",
        "1.2.840.10008.1.2.4.110",
        "1.2.840.10008.1.2.4.111",
        "1.2.840.10008.1.2.4.112",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
        "1.2.840.10008.1.2.8.1",
    ];
    let mut exercised: Vec<String> = fixtures::FILES
        .iter()
        .filter(|(name, _)| name.ends_with(".dcm"))
        .map(|(name, _)| load(name).ts)
        .collect();
    exercised.extend(SAME_FRAME_AS_EXPLICIT_LE.iter().map(|s| s.to_string()));
    exercised.push(HTJ2K_RPCL.to_owned());
    let missing: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|ts| can_decode(ts) && !exercised.iter().any(|e| e == ts))
        .collect();
    assert!(
        missing.is_empty(),
        "decodable but without a fixture in tests/it/fixtures.rs: {missing:?}"
    );
}

/// Every embedded fixture decodes to its description's size (the oracle
/// comparisons are in the tests above; this catches a fixture no test uses).
#[test]
fn every_fixture_decodes() {
    for (name, _) in fixtures::FILES.iter().filter(|(n, _)| n.ends_with(".dcm")) {
        let (f, frame) = decode(name);
        assert_eq!(frame.samples.len(), f.desc.samples_per_frame(), "{name}");
    }
}

// ---- unsupported ----

#[test]
fn unsupported_syntaxes_are_named() {
    let f = load("ct16s.dcm");
    for (uid, needle) in [("1.2.840.10008.1.2.4.100", "MPEG2"), ("1.2.3.4", "unknown")] {
        assert!(!can_decode(uid));
        match decode_frame(uid, &f.desc, &f.frame) {
            Err(PixelError::UnsupportedTransferSyntax { ts_uid, name }) => {
                assert_eq!(ts_uid, uid);
                assert!(name.contains(needle), "{name}");
            }
            other => panic!("{uid}: expected UnsupportedTransferSyntax, got {other:?}"),
        }
    }
}

// ---- description and rendering ----

#[test]
fn description_from_object() {
    let f = load("ct16s.dcm");
    let d = &f.desc;
    assert_eq!((d.rows, d.columns, d.samples_per_pixel), (64, 64, 1));
    assert_eq!(
        (
            d.bits_allocated,
            d.bits_stored,
            d.high_bit,
            d.pixel_representation
        ),
        (16, 16, 15, 1)
    );
    assert_eq!(d.photometric, "MONOCHROME2");
    assert_eq!(d.number_of_frames, 1);
    assert_eq!(
        d.windows,
        vec![VoiWindow {
            center: 40.0,
            width: 400.0
        }]
    );
    assert!(!d.float_pixels);
    let u = load("ct12u.dcm").desc;
    assert_eq!(u.rescale_intercept, -1024.0);
    assert_eq!(u.rescale_slope, 1.0);
}

#[test]
fn render_ct_window() {
    let (f, frame) = decode("ct12u.dcm");
    let r = render_8bit(&frame, &f.desc, None).expect("render");
    assert_eq!(
        (r.width, r.height, r.channels, r.pixels.len()),
        (64, 64, 1, 64 * 64)
    );
    // Stored 24 = -1000 HU (air): black in a 40/400 window.
    let values = original_values("ct12u.dcm");
    for (i, &v) in values.iter().enumerate() {
        let hu = v as f64 - 1024.0;
        if hu < -200.0 {
            assert_eq!(r.pixels[i], 0, "pixel {i} ({hu} HU)");
        } else if hu > 240.0 {
            assert_eq!(r.pixels[i], 255, "pixel {i} ({hu} HU)");
        }
    }
    // An explicit window overrides the file's: [-1100, 1400] HU puts air low but not black.
    let wide = render_8bit(
        &frame,
        &f.desc,
        Some(VoiWindow {
            center: 150.0,
            width: 2500.0,
        }),
    )
    .expect("render");
    let air = values.iter().position(|&v| v < 100).expect("air pixel");
    assert!(
        wide.pixels[air] > 0 && wide.pixels[air] < 30,
        "{}",
        wide.pixels[air]
    );
}

#[test]
fn render_colour_passes_through() {
    let (f, frame) = decode("rgb8_rle.dcm");
    let r = render_8bit(&frame, &f.desc, None).expect("render");
    assert_eq!(r.channels, 3);
    let expected: Vec<u8> = original_values("rgb8.dcm")
        .into_iter()
        .map(|v| v as u8)
        .collect();
    assert_eq!(r.pixels, expected);
}
