//! JPEG-LS (.4.80 lossless, .4.81 near-lossless) against fixtures from two
//! independent encoders, dcmtk's `dcmcjpls` and CharLS 2.x (pillow-jpls), made
//! by `tests/make_fixtures.sh`: lossless streams must give exactly the
//! original samples, near-lossless ones samples within NEAR of them. Corrupt
//! and truncated streams must give an error (or samples), never a panic or a
//! hang.

use rangsi_pixels::{FrameSamples, PixelError, decode_frame};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{assert_bit_exact, decode, load, original_values, values};

const LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
const NEAR_LOSSLESS: &str = "1.2.840.10008.1.2.4.81";

/// The fixture's codestream must contain `needle` (so it really exercises
/// the feature a test is about).
fn assert_stream_has(name: &str, needle: &[u8], what: &str) {
    let f = load(name);
    assert!(
        f.frame.windows(needle.len()).any(|w| w == needle),
        "{name} has no {what}"
    );
}

fn assert_lossless(name: &str, original: &str) {
    assert_eq!(load(name).ts, LOSSLESS, "{name}");
    assert_bit_exact(name, original);
}

#[test]
fn jpeg_ls_lossless_grey_bit_exact() {
    assert_lossless("ct16s_jls.dcm", "ct16s.dcm");
    assert_lossless("ct12s_jls.dcm", "ct12s.dcm");
    assert_lossless("ct12u_jls.dcm", "ct12u.dcm");
    assert_lossless("mono8_jls.dcm", "mono8.dcm");
}

#[test]
fn jpeg_ls_signed_16_bit_keeps_extremes() {
    let (_, frame) = decode("ct16s_jls.dcm");
    let FrameSamples::I16(v) = &frame.samples else {
        panic!("expected I16, got {:?}", frame.samples)
    };
    assert_eq!(&v[..4], &[-32768, 32767, -1, 0]);
}

#[test]
fn jpeg_ls_lossless_colour_every_interleave_mode() {
    // SOS: Ns=1 three times (none), Ns=3 with ILV=1 (line) or 2 (sample).
    for (name, ilv) in [
        ("rgb8_jls_ilv0.dcm", None),
        ("rgb8_jls_ilv1.dcm", Some(1u8)),
        ("rgb8_jls_ilv2.dcm", Some(2u8)),
    ] {
        if let Some(ilv) = ilv {
            assert_stream_has(
                name,
                &[0xFF, 0xDA, 0x00, 0x0C, 3, 1, 0, 2, 0, 3, 0, 0, ilv],
                "three-component scan",
            );
        }
        assert_lossless(name, "rgb8.dcm");
        let (_, frame) = decode(name);
        assert_eq!(frame.photometric, "RGB");
    }
}

#[test]
fn jpeg_ls_preset_parameters() {
    // LSE type 1 from dcmtk: MAXVAL 65535, T1 5, T2 20, T3 90, RESET 32.
    assert_stream_has(
        "ct16s_jls_presets.dcm",
        &[0xFF, 0xF8, 0, 13, 1, 0xFF, 0xFF, 0, 5, 0, 20, 0, 90, 0, 32],
        "custom preset parameters",
    );
    assert_lossless("ct16s_jls_presets.dcm", "ct16s.dcm");
    // 12-bit samples with MAXVAL = the data's maximum (not 2^12 - 1, so RANGE,
    // LIMIT and the clamping differ from the defaults), T1 9, T2 40, T3 150, RESET 100.
    let max = original_values("ct12u.dcm").into_iter().max().unwrap_or(0) as u16;
    assert_ne!(max, 4095);
    let [hi, lo] = max.to_be_bytes();
    assert_stream_has(
        "ct12u_jls_maxval.dcm",
        &[0xFF, 0xF8, 0, 13, 1, hi, lo, 0, 9, 0, 40, 0, 150, 0, 100],
        "custom MAXVAL",
    );
    assert_lossless("ct12u_jls_maxval.dcm", "ct12u.dcm");
    assert_stream_has(
        "ct12u_jls_maxval_near2.dcm",
        &[0xFF, 0xF8, 0, 13, 1, hi, lo],
        "custom MAXVAL",
    );
    assert_near_lossless("ct12u_jls_maxval_near2.dcm", "ct12u.dcm", 2);
}

#[test]
fn jpeg_ls_low_precision() {
    // Frame headers with P = 5 and P = 2 (the MAXVAL < 128 threshold rules).
    assert_stream_has(
        "mono5_jls_charls.dcm",
        &[0xFF, 0xF7, 0, 11, 5],
        "5-bit frame",
    );
    assert_stream_has(
        "mono2_jls_charls.dcm",
        &[0xFF, 0xF7, 0, 11, 2],
        "2-bit frame",
    );
    assert_lossless("mono5_jls_charls.dcm", "mono5.dcm");
    assert_lossless("mono2_jls_charls.dcm", "mono2.dcm");
}

#[test]
fn jpeg_ls_spiff_header_is_skipped() {
    assert_stream_has("mono8_jls_spiff.dcm", b"SPIFF\0", "SPIFF header");
    assert_lossless("mono8_jls_spiff.dcm", "mono8.dcm");
}

#[test]
fn jpeg_ls_restart_markers() {
    // DRI of 4 lines over 64 lines: RST0..RST7 twice.
    assert_stream_has("ct16s_jls_restart.dcm", &[0xFF, 0xDD, 0, 4, 0, 4], "DRI");
    assert_stream_has("ct16s_jls_restart.dcm", &[0xFF, 0xD7], "RST7");
    assert_lossless("ct16s_jls_restart.dcm", "ct16s.dcm");
    assert_stream_has(
        "rgb8_jls_restart_ilv2.dcm",
        &[0xFF, 0xDD, 0, 4, 0, 8],
        "DRI",
    );
    assert_lossless("rgb8_jls_restart_ilv2.dcm", "rgb8.dcm");
    assert_near_lossless("rgb8_jls_near2_restart_ilv1.dcm", "rgb8.dcm", 2);
}

/// Every sample within `near` of the original, and the stream really lossy.
fn assert_near_lossless(name: &str, original: &str, near: i64) {
    let (f, frame) = decode(name);
    assert_eq!(f.ts, NEAR_LOSSLESS, "{name}");
    let expected = original_values(original);
    let got = values(&frame.samples);
    assert_eq!(got.len(), expected.len(), "{name}: sample count");
    let worst = got
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .max()
        .unwrap_or(0);
    assert!(worst <= near, "{name}: max |diff| {worst} > NEAR {near}");
    assert!(worst > 0, "{name}: expected a lossy stream");
}

#[test]
fn jpeg_ls_near_lossless_within_near() {
    assert_near_lossless("ct12u_jls_near3.dcm", "ct12u.dcm", 3);
    assert_near_lossless("mono8_jls_near2.dcm", "mono8.dcm", 2);
    assert_near_lossless("rgb8_jls_near1_ilv0.dcm", "rgb8.dcm", 1);
    assert_near_lossless("rgb8_jls_near2_ilv1.dcm", "rgb8.dcm", 2);
    assert_near_lossless("rgb8_jls_near3_ilv2.dcm", "rgb8.dcm", 3);
}

#[test]
fn jpeg_ls_header_must_match_description() {
    let f = load("ct16s_jls.dcm");
    let mut d = f.desc.clone();
    d.rows = 32;
    let err = decode_frame(&f.ts, &d, &f.frame);
    assert!(
        matches!(err, Err(PixelError::Mismatch { what: "rows", .. })),
        "{err:?}"
    );
    let mut d = f.desc.clone();
    d.bits_allocated = 8;
    d.bits_stored = 8;
    d.high_bit = 7;
    assert!(decode_frame(&f.ts, &d, &f.frame).is_err());
}

#[test]
fn jpeg_ls_hp_colour_transform_is_a_clear_error() {
    let f = load("rgb8_jls_ilv1.dcm");
    // APP8 "mrfx" with transform 1 (HP1) right after SOI, as CharLS writes it.
    let mut stream = vec![0xFF, 0xD8, 0xFF, 0xE8, 0, 7, b'm', b'r', b'f', b'x', 1];
    stream.extend_from_slice(&f.frame[2..]);
    match decode_frame(&f.ts, &f.desc, &stream) {
        Err(PixelError::Codec { codec, message }) => {
            assert_eq!(codec, "JPEG-LS");
            assert!(message.contains("HP colour transform 1"), "{message}");
        }
        other => panic!("expected a codec error, got {other:?}"),
    }
    // Transform 0 (none) is fine.
    stream[10] = 0;
    assert!(decode_frame(&f.ts, &f.desc, &stream).is_ok());
}

#[test]
fn jpeg_ls_garbage_is_an_error() {
    let f = load("mono8_jls.dcm");
    for bytes in [
        &[][..],
        &[0xFF, 0xD8][..],
        &[0xFF, 0xD8, 0xFF][..],
        &[0xFF, 0xD8, 0xFF, 0xD9][..],
        &[0u8; 100][..],
        &[0xFF; 100][..],
        b"not a JPEG-LS stream",
    ] {
        assert!(
            decode_frame(LOSSLESS, &f.desc, bytes).is_err(),
            "accepted {bytes:?}"
        );
    }
}

#[test]
fn jpeg_ls_truncated_is_an_error() {
    for name in [
        "ct16s_jls.dcm",
        "rgb8_jls_ilv2.dcm",
        "rgb8_jls_ilv0.dcm",
        "ct16s_jls_restart.dcm",
        "mono8_jls_near2.dcm",
    ] {
        let f = load(name);
        // Everything but the end marker (and DICOM's pad byte) is needed.
        let eoi = f
            .frame
            .windows(2)
            .rposition(|w| w == [0xFF, 0xD9])
            .expect("EOI");
        let step = (eoi / 200).max(1);
        for cut in (0..eoi.saturating_sub(1)).step_by(step) {
            let result = decode_frame(&f.ts, &f.desc, &f.frame[..cut]);
            assert!(
                result.is_err(),
                "{name} cut to {cut} of {} bytes decoded",
                f.frame.len()
            );
        }
    }
}

#[test]
fn jpeg_ls_corrupt_bytes_never_panic() {
    for name in [
        "ct16s_jls.dcm",
        "rgb8_jls_ilv1.dcm",
        "rgb8_jls_ilv2.dcm",
        "ct16s_jls_restart.dcm",
        "ct12u_jls_near3.dcm",
        "mono2_jls_charls.dcm",
    ] {
        let f = load(name);
        let step = (f.frame.len() / 150).max(1);
        for at in (0..f.frame.len()).step_by(step) {
            for flip in [0xFFu8, 0x01, 0x80, 0x5A] {
                let mut bytes = f.frame.clone();
                bytes[at] ^= flip;
                // Any result is fine; returning at all (no panic, no hang) is the test.
                if let Ok(frame) = decode_frame(&f.ts, &f.desc, &bytes) {
                    assert_eq!(frame.samples.len(), f.desc.samples_per_frame(), "{name}");
                }
            }
        }
    }
}

/// Longer random mutation run over every JPEG-LS fixture (ignored by default;
/// run it after changing the decoder, in a debug build so that arithmetic
/// overflow panics too): `cargo test -p rangsi-pixels --test it
/// jpeg_ls_random_mutations -- --ignored`.
#[test]
#[ignore = "slow: about half a minute"]
fn jpeg_ls_random_mutations() {
    let names: Vec<&str> = super::fixtures::FILES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| n.contains("_jls"))
        .collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*: deterministic, so a failure can be replayed.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for name in names {
        let f = load(name);
        for _ in 0..5000 {
            let mut bytes = f.frame.clone();
            match next() % 4 {
                0 => bytes.truncate((next() as usize) % bytes.len()),
                1 => {
                    let at = (next() as usize) % bytes.len();
                    bytes.insert(at, next() as u8);
                }
                _ => {
                    for _ in 0..1 + next() % 4 {
                        let at = (next() as usize) % bytes.len();
                        bytes[at] = next() as u8;
                    }
                }
            }
            if let Ok(frame) = decode_frame(&f.ts, &f.desc, &bytes) {
                assert_eq!(frame.samples.len(), f.desc.samples_per_frame(), "{name}");
            }
        }
    }
}
