//! Writes the seed corpus `seeds/decode_frame/` from the crate's test
//! fixtures: each fixture's transfer syntax, description and frame bytes in
//! the fuzz input format. Run after the fixtures change:
//! `cargo run --manifest-path crates/pixels/fuzz/Cargo.toml --example seeds`.

use std::fs;
use std::path::Path;

use dicom_dictionary_std::tags;
use rangsi_pixels::ImageDescription;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = here.join("../tests/fixtures");
    let out = here.join("seeds/decode_frame");
    fs::create_dir_all(&out)?;
    let mut names: Vec<_> = fs::read_dir(&fixtures)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    names.sort();
    for path in names {
        let obj = dicom_object::open_file(&path)?;
        let ts = obj
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_owned();
        let desc = ImageDescription::from_object(&obj)?;
        let pixel_data = obj.element(tags::PIXEL_DATA)?;
        let frame: Vec<u8> = match pixel_data.fragments() {
            Some(fragments) => fragments.iter().flatten().copied().collect(),
            None => {
                let bytes = fs::read(&path)?;
                bytes[bytes.len() - desc.native_frame_len()..].to_vec()
            }
        };
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        match rangsi_pixels_fuzz::encode(&ts, &desc, &frame) {
            Some(seed) => fs::write(out.join(&*name), seed)?,
            None => eprintln!("{name}: not expressible in the fuzz input format, skipped"),
        }
    }
    Ok(())
}
