//! Frames as the server and the viewer hand them over: one frame of a
//! multi-frame encapsulated instance, located by its Basic Offset Table
//! (several fragments per frame) or by its Extended Offset Table, decoded
//! from that frame's fragments alone; YBR_RCT colour; double float pixels.
//! Fixtures by pydicom (RLE) and OpenJPEG `opj_compress` (RCT); pydicom
//! decodes each to the original in `make_fixtures.sh` before it is kept.

use dicom_core::value::Value;
use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use rangsi_pixels::{FrameSamples, ImageDescription, decode_frame};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{assert_bit_exact, decode, fixtures, values};

/// Signed 16-bit frames of the native multi-frame original, from its last bytes.
fn original_frames(name: &str, frames: usize, pixels: usize) -> Vec<Vec<i64>> {
    let bytes = fixtures::bytes(name);
    let data = &bytes[bytes.len() - frames * pixels * 2..];
    data.chunks_exact(pixels * 2)
        .map(|f| {
            f.chunks_exact(2)
                .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
                .collect()
        })
        .collect()
}

/// Each frame's bytes: the fragments from its offset up to the next frame's,
/// offsets counted from the first fragment item after the Basic Offset Table
/// (item header of 8 bytes + fragment), as PS3.5 A.4 defines them.
fn frames_by_offsets(fragments: &[Vec<u8>], offsets: &[u64]) -> Vec<Vec<u8>> {
    let mut position = 0u64;
    let starts: Vec<u64> = fragments
        .iter()
        .map(|f| {
            let at = position;
            position += 8 + f.len() as u64;
            at
        })
        .collect();
    (0..offsets.len())
        .map(|k| {
            let end = offsets.get(k + 1).copied().unwrap_or(u64::MAX);
            fragments
                .iter()
                .zip(&starts)
                .filter(|&(_, &at)| at >= offsets[k] && at < end)
                .flat_map(|(f, _)| f.iter().copied())
                .collect()
        })
        .collect()
}

fn multi_frame(name: &str) -> (String, ImageDescription, Vec<Vec<u8>>, usize) {
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .from_reader(fixtures::bytes(name))
        .expect("fixture parses");
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_owned();
    let desc = ImageDescription::from_object(&obj).expect("description");
    let pixel = obj.element(tags::PIXEL_DATA).expect("pixel data");
    let Value::PixelSequence(seq) = pixel.value() else {
        panic!("{name}: not encapsulated");
    };
    let fragments: Vec<Vec<u8>> = seq.fragments().to_vec();
    let (offsets, per_frame) = match obj.element(tags::EXTENDED_OFFSET_TABLE) {
        Ok(eot) => {
            assert!(seq.offset_table().is_empty(), "{name}: EOT with a BOT");
            let raw = eot.to_bytes().expect("EOT bytes");
            let offsets = raw
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            (offsets, 1)
        }
        Err(_) => {
            let bot: Vec<u64> = seq.offset_table().iter().map(|&o| u64::from(o)).collect();
            let per = fragments.len() / bot.len();
            (bot, per)
        }
    };
    (ts, desc, frames_by_offsets(&fragments, &offsets), per_frame)
}

fn assert_frames_decode(name: &str, fragments_per_frame: usize) {
    let (ts, desc, frames, per_frame) = multi_frame(name);
    assert_eq!(desc.number_of_frames, 3);
    assert_eq!(frames.len(), 3, "{name}: frames located");
    assert_eq!(
        per_frame, fragments_per_frame,
        "{name}: fragments per frame"
    );
    let expected = original_frames("mf16s.dcm", 3, desc.pixels_per_frame());
    // Last frame first: no frame needs the ones before it.
    for k in (0..3).rev() {
        let frame = decode_frame(&ts, &desc, &frames[k])
            .unwrap_or_else(|e| panic!("{name} frame {}: {e}", k + 1));
        assert_eq!(
            values(&frame.samples),
            expected[k],
            "{name} frame {}",
            k + 1
        );
    }
}

#[test]
fn multi_frame_with_several_fragments_per_frame_and_bot() {
    assert_frames_decode("mf16s_rle_frag3.dcm", 3);
}

#[test]
fn multi_frame_with_extended_offset_table() {
    assert_frames_decode("mf16s_rle_eot.dcm", 1);
}

#[test]
fn ybr_rct_jpeg2000_is_rgb_bit_exact() {
    let (f, frame) = decode("rgb8_j2k_rct.dcm");
    assert_eq!(f.desc.photometric, "YBR_RCT");
    assert_eq!(frame.photometric, "RGB");
    assert_bit_exact("rgb8_j2k_rct.dcm", "rgb8.dcm");
}

#[test]
fn double_float_pixels() {
    let d = ImageDescription {
        rows: 1,
        columns: 3,
        samples_per_pixel: 1,
        bits_allocated: 64,
        bits_stored: 64,
        high_bit: 63,
        pixel_representation: 0,
        planar_configuration: 0,
        photometric: "MONOCHROME2".into(),
        number_of_frames: 1,
        rescale_slope: 1.0,
        rescale_intercept: 0.0,
        windows: Vec::new(),
        window_explanations: Vec::new(),
        float_pixels: true,
        palette: None,
    };
    let values: [f64; 3] = [1.0e-300, -2.5, 123_456.789_012_345];
    let le: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    for (ts, bytes) in [("1.2.840.10008.1.2.1", &le), ("1.2.840.10008.1.2.2", &be)] {
        let frame = decode_frame(ts, &d, bytes).expect("decodes");
        assert_eq!(frame.samples, FrameSamples::F64(values.to_vec()), "{ts}");
        assert_eq!(frame.to_native_le_bytes(&d), le, "{ts}");
    }
}
