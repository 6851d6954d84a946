//! Inputs found by `cargo xtask fuzz` (crates/pixels/fuzz) that crashed the
//! decoder, minimised, each with the expected error. The same bytes are in the
//! fuzz seed corpus (`fuzz/seeds/decode_frame/crash-*`), so the fuzzer replays
//! them on every run too.

use rangsi_pixels::{ImageDescription, PixelError, decode_frame};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn mono(rows: u16, columns: u16, bits_allocated: u16, bits_stored: u16) -> ImageDescription {
    ImageDescription {
        rows,
        columns,
        samples_per_pixel: 1,
        bits_allocated,
        bits_stored,
        high_bit: bits_stored - 1,
        pixel_representation: 0,
        planar_configuration: 0,
        photometric: "MONOCHROME2".to_owned(),
        number_of_frames: 1,
        rescale_slope: 1.0,
        rescale_intercept: 0.0,
        windows: vec![],
        window_explanations: vec![],
        float_pixels: false,
        palette: None,
    }
}

/// 12-bit JPEG Extended whose stream repeats its frame header (SOF1, 64×64,
/// one component) five times: each added its component to the first's, and
/// the sixth-component lookup indexed past a 4-element array (panic).
#[test]
fn jpeg12_repeated_frame_header_is_an_error() {
    const SOF1: [u8; 13] = [
        0xFF, 0xC1, 0x00, 0x0B, 0x0C, 0x00, 0x40, 0x00, 0x40, 0x01, 0x01, 0x11, 0x00,
    ];
    let mut stream = vec![0xFF, 0xD8, 0x14];
    for fill in [&[][..], &[0x00], &[0x12], &[], &[]] {
        stream.extend_from_slice(&SOF1);
        stream.extend_from_slice(fill);
    }
    stream.push(0x05);
    let result = decode_frame("1.2.840.10008.1.2.4.51", &mono(64, 64, 16, 12), &stream);
    assert!(
        matches!(result, Err(PixelError::Codec { codec: "JPEG", .. })),
        "{result:?}"
    );
}

/// A 240-byte baseline JPEG whose frame header claims `side`×`side`: one
/// quantisation table, 1-bit Huffman codes for "DC difference 0" and "end of
/// block", 100 zero bytes of scan (400 blocks' worth), EOI.
fn tiny_baseline_jpeg(side: u16) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xDB, 0, 67, 0];
    v.extend([1u8; 64]);
    let [hi, lo] = side.to_be_bytes();
    v.extend([0xFF, 0xC0, 0, 11, 8, hi, lo, hi, lo, 1, 1, 0x11, 0]);
    for class in [0x00, 0x10] {
        v.extend([0xFF, 0xC4, 0, 20, class, 1]);
        v.extend([0u8; 15]);
        v.push(0);
    }
    v.extend([0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0]);
    v.extend([0u8; 100]);
    v.extend([0xFF, 0xD9]);
    v
}

/// Found while sizing the fuzzer's limits: a stream far too short for its
/// frame header was zero-filled to the full size, so 240 bytes could make
/// the decoder allocate what the description allows (2 GB at 16384²).
#[test]
fn jpeg_too_short_for_its_frame_size_is_an_error() {
    let stream = tiny_baseline_jpeg(4096);
    assert_eq!(stream.len(), 240);
    match decode_frame("1.2.840.10008.1.2.4.50", &mono(4096, 4096, 8, 8), &stream) {
        Err(PixelError::Codec {
            codec: "JPEG",
            message,
        }) if message.contains("truncated") => {}
        Err(e) => panic!("expected a truncation error, got {e}"),
        Ok(f) => panic!("decoded {} samples from 240 bytes", f.samples.len()),
    }
    // A stream of the same length is long enough for a 160×160 frame (400 blocks).
    let small = decode_frame(
        "1.2.840.10008.1.2.4.50",
        &mono(160, 160, 8, 8),
        &tiny_baseline_jpeg(160),
    );
    assert!(small.is_ok(), "{:?}", small.err());
}
