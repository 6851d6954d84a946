//! Tests on hand-built descriptions and frames, for layouts no fixture
//! encoder produces: MONOCHROME1, palette, float, planar, native 4:2:2, 1-bit,
//! and malformed inputs. Expected values are computed by hand here.

use rangsi_pixels::{
    Frame, FrameSamples, ImageDescription, PaletteLut, PixelDataVr, PixelError, VoiWindow,
    decode_frame, decode_frame_vr, render_8bit, swap_ow_bytes,
};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const LE: &str = "1.2.840.10008.1.2.1";

fn desc(rows: u16, columns: u16, spp: u16, bits: u16, photometric: &str) -> ImageDescription {
    ImageDescription {
        rows,
        columns,
        samples_per_pixel: spp,
        bits_allocated: bits,
        bits_stored: bits,
        high_bit: bits.saturating_sub(1),
        pixel_representation: 0,
        planar_configuration: 0,
        photometric: photometric.to_owned(),
        number_of_frames: 1,
        rescale_slope: 1.0,
        rescale_intercept: 0.0,
        windows: vec![],
        window_explanations: vec![],
        float_pixels: false,
        palette: None,
    }
}

fn decode_ok(ts: &str, d: &ImageDescription, bytes: &[u8]) -> Frame {
    match decode_frame(ts, d, bytes) {
        Ok(f) => f,
        Err(e) => panic!("decode failed: {e}"),
    }
}

#[test]
fn monochrome1_is_inverted_and_window_applies_after_rescale() {
    let mut d = desc(1, 4, 1, 16, "MONOCHROME1");
    d.rescale_slope = 2.0;
    d.rescale_intercept = -100.0;
    // Stored 0,50,100,1000 → modality -100, 0, 100, 1900.
    let bytes: Vec<u8> = [0u16, 50, 100, 1000]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let frame = decode_ok(LE, &d, &bytes);
    let r = render_8bit(
        &frame,
        &d,
        Some(VoiWindow {
            center: 0.0,
            width: 201.0,
        }),
    )
    .expect("render");
    // Linear VOI: x <= c-0.5-(w-1)/2 = -100.5 → 0, x > 99.5 → 255, 0 → 128 (rounded); then inverted.
    assert_eq!(r.pixels, vec![255 - 1, 255 - 128, 0, 0]);
}

#[test]
fn min_max_window_when_none_given() {
    let d = desc(1, 3, 1, 8, "MONOCHROME2");
    let frame = decode_ok(LE, &d, &[10, 20, 30]);
    let r = render_8bit(&frame, &d, None).expect("render");
    assert_eq!(r.pixels, vec![0, 128, 255]);
}

#[test]
fn palette_colour() {
    let mut d = desc(1, 3, 1, 8, "PALETTE COLOR");
    d.palette = Some(PaletteLut {
        first_mapped: 1,
        bits: 16,
        red: vec![0xFFFF, 0x0000, 0x8000],
        green: vec![0x0000, 0xFFFF, 0x8000],
        blue: vec![0x0000, 0x0000, 0x8000],
    });
    let frame = decode_ok(LE, &d, &[1, 2, 3]);
    let r = render_8bit(&frame, &d, None).expect("render");
    assert_eq!(r.channels, 3);
    assert_eq!(r.pixels, vec![255, 0, 0, 0, 255, 0, 128, 128, 128]);
}

#[test]
fn planar_configuration_1_is_interleaved() {
    let mut d = desc(1, 2, 3, 8, "RGB");
    d.planar_configuration = 1;
    let frame = decode_ok(LE, &d, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(frame.samples, FrameSamples::U8(vec![1, 3, 5, 2, 4, 6]));
    assert_eq!(frame.to_native_le_bytes(&d), vec![1, 3, 5, 2, 4, 6]);
}

#[test]
fn native_ybr_full_422_is_upsampled() {
    let d = desc(1, 2, 3, 8, "YBR_FULL_422");
    // Y1 Y2 Cb Cr
    let frame = decode_ok(LE, &d, &[10, 20, 128, 128]);
    assert_eq!(frame.photometric, "YBR_FULL");
    assert_eq!(
        frame.samples,
        FrameSamples::U8(vec![10, 128, 128, 20, 128, 128])
    );
    let r = render_8bit(&frame, &d, None).expect("render");
    assert_eq!(r.pixels, vec![10, 10, 10, 20, 20, 20]);
}

#[test]
fn one_bit_unpacks_lsb_first() {
    let d = desc(2, 4, 1, 1, "MONOCHROME2");
    let frame = decode_ok(LE, &d, &[0b1000_0101]);
    assert_eq!(
        frame.samples,
        FrameSamples::U8(vec![1, 0, 1, 0, 0, 0, 0, 1])
    );
    assert_eq!(frame.to_native_le_bytes(&d), vec![0b1000_0101]);
}

#[test]
fn float_pixels() {
    let mut d = desc(1, 2, 1, 32, "MONOCHROME2");
    d.float_pixels = true;
    let bytes: Vec<u8> = [1.5f32, -2.25]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let frame = decode_ok(LE, &d, &bytes);
    assert_eq!(frame.samples, FrameSamples::F32(vec![1.5, -2.25]));
    assert_eq!(frame.to_native_le_bytes(&d), bytes);
}

#[test]
fn high_bit_not_at_top_and_signed_12() {
    // 12 bits stored at bits 2..=13 (High Bit 13), signed; garbage in the other bits.
    let mut d = desc(1, 2, 1, 16, "MONOCHROME2");
    d.bits_stored = 12;
    d.high_bit = 13;
    d.pixel_representation = 1;
    let stored = |v: i16| -> u16 { (((v as u16) & 0x0FFF) << 2) | 0xC003 };
    let bytes: Vec<u8> = [stored(-5), stored(2047)]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let frame = decode_ok(LE, &d, &bytes);
    assert_eq!(frame.samples, FrameSamples::I16(vec![-5, 2047]));
}

#[test]
fn unsigned_bits_below_the_top_are_masked_in_either_byte_order() {
    // 10 bits stored at bits 3..=12, garbage above and below.
    let mut d = desc(1, 3, 1, 16, "MONOCHROME2");
    d.bits_stored = 10;
    d.high_bit = 12;
    let stored = |v: u16| -> u16 { (v << 3) | 0xE005 };
    let words = [stored(0), stored(1023), stored(517)];
    let le: Vec<u8> = words.iter().flat_map(|v| v.to_le_bytes()).collect();
    let be: Vec<u8> = words.iter().flat_map(|v| v.to_be_bytes()).collect();
    let expected = FrameSamples::U16(vec![0, 1023, 517]);
    assert_eq!(decode_ok(LE, &d, &le).samples, expected);
    assert_eq!(decode_ok("1.2.840.10008.1.2.2", &d, &be).samples, expected);
    // 8 bits allocated, 6 stored at bits 1..=6.
    let mut d = desc(1, 3, 1, 8, "MONOCHROME2");
    d.bits_stored = 6;
    d.high_bit = 6;
    let frame = decode_ok(LE, &d, &[0x81, 0x7F, (37 << 1) | 0x81]);
    assert_eq!(frame.samples, FrameSamples::U8(vec![0, 63, 37]));
}

#[test]
fn short_native_frame_is_an_error() {
    let d = desc(4, 4, 1, 16, "MONOCHROME2");
    let err = decode_frame(LE, &d, &[0; 31]);
    assert!(
        matches!(
            err,
            Err(PixelError::FrameTooShort {
                expected: 32,
                actual: 31
            })
        ),
        "{err:?}"
    );
}

#[test]
fn garbage_is_an_error_for_every_codec() {
    let d = desc(8, 8, 1, 16, "MONOCHROME2");
    for ts in [
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.201",
    ] {
        for bytes in [
            &[][..],
            &[0xFF, 0xD8, 0xFF][..],
            &[0u8; 100][..],
            &[0xFF; 100][..],
        ] {
            assert!(
                decode_frame(ts, &d, bytes).is_err(),
                "{ts} accepted {} garbage bytes",
                bytes.len()
            );
        }
    }
}

#[test]
fn jpeg_ls_without_a_frame_is_a_codec_error() {
    let d = desc(8, 8, 1, 16, "MONOCHROME2");
    match decode_frame("1.2.840.10008.1.2.4.80", &d, &[0xFF, 0xD8]) {
        Err(PixelError::Codec { codec, .. }) => assert_eq!(codec, "JPEG-LS"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_descriptions_are_rejected() {
    let mut d = desc(8, 8, 1, 16, "MONOCHROME2");
    d.bits_stored = 17;
    assert!(matches!(
        decode_frame(LE, &d, &[0; 128]),
        Err(PixelError::InvalidAttribute { .. })
    ));
    let mut d = desc(8, 8, 1, 24, "MONOCHROME2");
    d.bits_stored = 24;
    assert!(matches!(
        decode_frame(LE, &d, &[0; 192]),
        Err(PixelError::UnsupportedLayout { .. })
    ));
}

const BE: &str = "1.2.840.10008.1.2.2";

/// 8-bit samples in an OW value under Explicit VR Big Endian (PS3.5 7.3,
/// 8.1.1): the value is a stream of 16-bit words written most significant
/// byte first, so samples 1, 2 are stored as the word 0x0201, bytes `02 01`.
/// An odd frame (3 RGB pixels, 9 bytes) keeps its last sample in the second
/// byte of the padded word. The same bytes as OB are taken as they are.
#[test]
fn eight_bit_ow_big_endian_is_unswapped_per_word() {
    let d = desc(1, 3, 3, 8, "RGB");
    let stored = [2u8, 1, 4, 3, 6, 5, 8, 7, 0, 9];
    let frame = decode_frame_vr(BE, &d, PixelDataVr::Ow, &stored).expect("decodes");
    assert_eq!(frame.samples, FrameSamples::U8((1..=9).collect()));
    // As OB (the default): a byte stream, no swap.
    let ob = decode_frame(BE, &d, &stored).expect("decodes");
    assert_eq!(ob.samples, FrameSamples::U8(stored[..9].to_vec()));
    // Little endian syntaxes have no such case: OW bytes are the sample bytes.
    let le = decode_frame_vr(LE, &d, PixelDataVr::Ow, &stored).expect("decodes");
    assert_eq!(le.samples, FrameSamples::U8(stored[..9].to_vec()));
    // Without the padding byte the last sample is missing.
    assert!(matches!(
        decode_frame_vr(BE, &d, PixelDataVr::Ow, &stored[..9]),
        Err(PixelError::FrameTooShort {
            expected: 10,
            actual: 9
        })
    ));
    // 16-bit data is the same for OB and OW (the syntax's byte order applies).
    let d16 = desc(1, 2, 1, 16, "MONOCHROME2");
    let words = [0x01u8, 0x02, 0x03, 0x04];
    for vr in [PixelDataVr::Ob, PixelDataVr::Ow] {
        let f = decode_frame_vr(BE, &d16, vr, &words).expect("decodes");
        assert_eq!(f.samples, FrameSamples::U16(vec![0x0102, 0x0304]), "{vr:?}");
    }
    // A frame that starts mid-word: the caller swaps the words around it.
    let mut two_frames = [
        2u8, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17,
    ];
    swap_ow_bytes(&mut two_frames);
    let second = decode_frame(BE, &d, &two_frames[9..18]).expect("decodes");
    assert_eq!(second.samples, FrameSamples::U8((10..=18).collect()));
}

/// 1-bit data packed into OW words in Big Endian: bytes swapped, then bits
/// read from the least significant bit of each byte.
#[test]
fn one_bit_ow_big_endian_is_unswapped_per_word() {
    let d = desc(1, 16, 1, 1, "MONOCHROME2");
    // Stream bytes 0b0000_0001 (pixel 0 set), 0b1000_0000 (pixel 15 set), as one BE word.
    let stored = [0b1000_0000u8, 0b0000_0001];
    let f = decode_frame_vr(BE, &d, PixelDataVr::Ow, &stored).expect("decodes");
    let mut want = vec![0u8; 16];
    want[0] = 1;
    want[15] = 1;
    assert_eq!(f.samples, FrameSamples::U8(want));
}
