//! The committed fixtures, compiled into the test binary with `include_bytes!`:
//! wasm32 in a browser has no file system, and embedding them lets one set of
//! tests run natively and under wasm-bindgen-test alike. A new file in
//! `tests/fixtures` must be added to the list below (a native test checks).

/// Embeds each named file of `tests/fixtures` as `(name, bytes)`.
macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        /// Every file of `tests/fixtures`, by name.
        pub const FILES: &[(&str, &[u8])] = &[$((
            $name,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/", $name)),
        )),*];
    };
}

embed!(
    "ct12s.dcm",
    "ct12s_j2k.dcm",
    "ct12s_jls.dcm",
    "ct12s_jpll_sv1.dcm",
    "ct12s_rle.dcm",
    "ct12u.dcm",
    "ct12u_htj2k.dcm",
    "ct12u_jls.dcm",
    "ct12u_jls_maxval.dcm",
    "ct12u_jls_maxval_near2.dcm",
    "ct12u_jls_near3.dcm",
    "ct12u_jpeg_extended.dcm",
    "ct12u_jpeg_extended.ref.raw",
    "ct16s.dcm",
    "ct16s_be.dcm",
    "ct16s_htj2k.dcm",
    "ct16s_j2k.dcm",
    "ct16s_j2k_lossy.dcm",
    "ct16s_jls.dcm",
    "ct16s_jls_presets.dcm",
    "ct16s_jls_restart.dcm",
    "ct16s_jpll_p2.dcm",
    "ct16s_jpll_p3.dcm",
    "ct16s_jpll_p4.dcm",
    "ct16s_jpll_p5.dcm",
    "ct16s_jpll_p6.dcm",
    "ct16s_jpll_p7.dcm",
    "ct16s_jpll_sv1.dcm",
    "ct16s_rle.dcm",
    "mf16s.dcm",
    "mf16s_rle_eot.dcm",
    "mf16s_rle_frag3.dcm",
    "modality_lut_seq.dcm",
    "modality_lut_seq.ref.raw",
    "mono2.dcm",
    "mono2_jls_charls.dcm",
    "mono5.dcm",
    "mono5_jls_charls.dcm",
    "mono8.dcm",
    "mono8_jls.dcm",
    "mono8_jls_near2.dcm",
    "mono8_jls_spiff.dcm",
    "mono8_jpeg_baseline.dcm",
    "mono8_jpeg_baseline.ref.raw",
    "mono8_jpll_sv1.dcm",
    "mono8_rle.dcm",
    "odd16s.dcm",
    "odd16s_htj2k_tiles.dcm",
    "odd16s_j2k_tiles.dcm",
    "palette_seg.dcm",
    "palette_seg.ref.raw",
    "rgb8.dcm",
    "rgb8_htj2k_lossy.dcm",
    "rgb8_j2k.dcm",
    "rgb8_j2k_rct.dcm",
    "rgb8_jls_ilv0.dcm",
    "rgb8_jls_ilv1.dcm",
    "rgb8_jls_ilv2.dcm",
    "rgb8_jls_near1_ilv0.dcm",
    "rgb8_jls_near2_ilv1.dcm",
    "rgb8_jls_near2_restart_ilv1.dcm",
    "rgb8_jls_near3_ilv2.dcm",
    "rgb8_jls_restart_ilv2.dcm",
    "rgb8_jpeg_baseline_rgb.dcm",
    "rgb8_jpeg_baseline_ybr.dcm",
    "rgb8_jpll_sv1.dcm",
    "rgb8_rle.dcm",
    "u32.dcm",
    "u32_rle.dcm",
    "voi_linear_exact.dcm",
    "voi_linear_exact.ref.raw",
    "voi_lut_seq.dcm",
    "voi_lut_seq.ref.raw",
    "voi_sigmoid_mono1.dcm",
    "voi_sigmoid_mono1.ref.raw",
);

/// The bytes of fixture `name`.
pub fn bytes(name: &str) -> &'static [u8] {
    FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, b)| b)
        .unwrap_or_else(|| panic!("fixture {name} is not embedded: add it to tests/it/fixtures.rs"))
}

/// Fails when `tests/fixtures` holds a file the list above lacks (or the
/// reverse), so no fixture is silently left out of the wasm run.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn every_fixture_file_is_embedded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut embedded: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
    embedded.sort();
    assert_eq!(
        on_disk, embedded,
        "tests/it/fixtures.rs must list every file of tests/fixtures"
    );
}
