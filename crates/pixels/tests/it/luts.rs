//! Palettes and the greyscale pipeline against pydicom: the fixtures and their
//! `.ref.raw` references come from `tests/make_fixtures.sh` (palette and LUT
//! section), where `pydicom.pixels.apply_color_lut`, `apply_modality_lut` and
//! `apply_voi_lut` (windows with LINEAR_EXACT and SIGMOID, VOI LUT Sequence)
//! computed the expected output; inversion for MONOCHROME1 / Presentation LUT
//! Shape INVERSE is applied there on the 8-bit scale.

use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use rangsi_pixels::{
    GreyscalePipeline, PresentationLutShape, Voi, VoiFunction, decode_frame, render_8bit,
    render_8bit_with,
};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{decode, fixtures, load, values};

fn pipeline(name: &str) -> GreyscalePipeline {
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .from_reader(fixtures::bytes(name))
        .expect("fixture parses");
    GreyscalePipeline::from_object(&obj).expect("pipeline")
}

/// Renders view `voi` of `name` and compares it with frame `index` of its
/// pydicom reference: at most 1 grey level apart (rounding at .5), and the
/// same for nearly all pixels.
fn assert_matches_reference(name: &str, voi: Voi, index: usize) {
    let (f, frame) = decode(name);
    let luts = pipeline(name);
    let got = render_8bit_with(&frame, &f.desc, &luts, Some(voi))
        .unwrap_or_else(|e| panic!("{name}: render failed: {e}"))
        .pixels;
    let reference = fixtures::bytes(&name.replace(".dcm", ".ref.raw"));
    let expected = &reference[index * got.len()..(index + 1) * got.len()];
    let far = got
        .iter()
        .zip(expected)
        .filter(|(a, b)| a.abs_diff(**b) > 1)
        .count();
    let off = got.iter().zip(expected).filter(|(a, b)| a != b).count();
    assert_eq!(
        far, 0,
        "{name} view {index}: {far} pixels differ by more than 1"
    );
    assert!(
        off * 100 <= got.len(),
        "{name} view {index}: {off} of {} pixels differ",
        got.len()
    );
    // The reference is not flat: the test would catch a constant image.
    assert!(expected.iter().any(|&v| v != expected[0]));
}

#[test]
fn segmented_palette_matches_pydicom() {
    let (f, frame) = decode("palette_seg.dcm");
    let palette = f.desc.palette.as_ref().expect("segmented palette read");
    assert_eq!(palette.red.len(), 256);
    let reference: Vec<u16> = fixtures::bytes("palette_seg.ref.raw")
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let indices = values(&frame.samples);
    for (i, &v) in indices.iter().enumerate() {
        let v = v as usize;
        let got = [palette.red[v], palette.green[v], palette.blue[v]];
        assert_eq!(got, reference[3 * i..3 * i + 3], "pixel {i} (index {v})");
    }
    let rendered = render_8bit(&frame, &f.desc, None).expect("renders");
    assert_eq!(rendered.channels, 3);
    let expected: Vec<u8> = reference.iter().map(|&x| (x >> 8) as u8).collect();
    assert_eq!(rendered.pixels, expected);
}

#[test]
fn several_windows_linear_exact_with_explanations() {
    let f = load("voi_linear_exact.dcm");
    assert_eq!(f.desc.windows.len(), 3, "a window of width 0.5 is kept");
    assert_eq!(f.desc.window_explanations, ["SOFT TISSUE", "BONE", "EDGE"]);
    assert_eq!(
        pipeline("voi_linear_exact.dcm").voi_function,
        VoiFunction::LinearExact
    );
    for (i, w) in f.desc.windows.iter().enumerate() {
        assert_matches_reference("voi_linear_exact.dcm", Voi::Window(*w), i);
    }
}

#[test]
fn sigmoid_windows_on_signed_monochrome1() {
    let f = load("voi_sigmoid_mono1.dcm");
    let luts = pipeline("voi_sigmoid_mono1.dcm");
    assert_eq!(luts.voi_function, VoiFunction::Sigmoid);
    assert!(luts.inverts("MONOCHROME1"));
    assert_eq!(f.desc.window_explanations, ["WIDE", "NARROW"]);
    for (i, w) in f.desc.windows.iter().enumerate() {
        assert_matches_reference("voi_sigmoid_mono1.dcm", Voi::Window(*w), i);
    }
}

#[test]
fn voi_lut_sequence_and_presentation_lut_shape_inverse() {
    let luts = pipeline("voi_lut_seq.dcm");
    assert_eq!(luts.voi_luts.len(), 2);
    assert_eq!(luts.voi_luts[0].explanation, "SQRT");
    assert_eq!(luts.voi_luts[1].explanation, "CUBE");
    assert_eq!(
        luts.presentation_lut_shape,
        Some(PresentationLutShape::Inverse)
    );
    assert_matches_reference("voi_lut_seq.dcm", Voi::Lut(0), 0);
    assert_matches_reference("voi_lut_seq.dcm", Voi::Lut(1), 1);
    // With no window in the file, the first VOI LUT is the default view.
    let (f, frame) = decode("voi_lut_seq.dcm");
    let default = render_8bit_with(&frame, &f.desc, &luts, None).expect("renders");
    let first = render_8bit_with(&frame, &f.desc, &luts, Some(Voi::Lut(0))).expect("renders");
    assert_eq!(default, first);
    assert!(
        render_8bit_with(&frame, &f.desc, &luts, Some(Voi::Lut(2))).is_err(),
        "a VOI LUT index past the sequence is an error"
    );
}

#[test]
fn modality_lut_sequence_then_window() {
    let luts = pipeline("modality_lut_seq.dcm");
    let lut = luts.modality_lut.as_ref().expect("modality LUT");
    assert_eq!(
        (lut.first_mapped, lut.bits, lut.entries.len()),
        (256, 16, 512)
    );
    assert_eq!(lut.explanation, "OPTICAL DENSITY");
    let f = load("modality_lut_seq.dcm");
    assert_matches_reference("modality_lut_seq.dcm", Voi::Window(f.desc.windows[0]), 0);
}

#[test]
fn the_default_pipeline_ignores_lut_sequences() {
    // render_8bit keeps its old meaning (rescale + linear window), so callers
    // that do not read a pipeline get what they always got.
    let f = load("voi_linear_exact.dcm");
    let frame = decode_frame(&f.ts, &f.desc, &f.frame).expect("decodes");
    let plain = render_8bit(&frame, &f.desc, None).expect("renders");
    let linear = render_8bit_with(
        &frame,
        &f.desc,
        &GreyscalePipeline::default(),
        Some(Voi::Window(f.desc.windows[0])),
    )
    .expect("renders");
    assert_eq!(plain, linear);
}
