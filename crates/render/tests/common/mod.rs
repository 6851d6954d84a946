//! What the MPR and volume-rendering golden tests share: the headless device, PNGs of
//! what was drawn, and uploading a synthetic acquisition slice by slice out of order,
//! as slices arrive from the network.

use rangsi_render::{Gpu, GpuVolume, MprRenderer, SliceTexels, VolumeFormat};
use rangsi_volume::{SliceSource, Volume};

/// Side of the square images the golden tests draw.
pub const SIZE: u32 = 96;

pub fn gpu() -> Gpu {
    pollster::block_on(Gpu::headless()).unwrap_or_else(|e| {
        panic!("{e}: these tests need a Vulkan adapter (Mesa's lavapipe: apt-get install mesa-vulkan-drivers)")
    })
}

/// Writes `rgba` (SIZE × SIZE) as `<name>-<suffix>.png` under `CARGO_TARGET_TMPDIR`.
pub fn save(name: &str, suffix: &str, rgba: &[u8]) {
    let path =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{suffix}.png"));
    if let Ok(file) = std::fs::File::create(&path) {
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), SIZE, SIZE);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        if let Ok(mut w) = enc.write_header() {
            let _ = w.write_image_data(rgba);
        }
    }
}

/// Uploads every slice of `volume` (a regular grid) from the acquisition's `pixels`:
/// odd slices from the top down, then even ones from the bottom up.
pub fn upload_out_of_order(
    mpr: &MprRenderer,
    gpu_volume: &mut GpuVolume,
    volume: &Volume,
    pixels: &[Vec<f32>],
    format: VolumeFormat,
) {
    let n = volume.dims[2];
    for k in (0..n)
        .filter(|k| k % 2 == 1)
        .rev()
        .chain((0..n).filter(|k| k % 2 == 0))
    {
        let slice = match volume.slices[k as usize] {
            SliceSource::Exact(src) => &pixels[src.instance],
            SliceSource::Blend { .. } => panic!("regular acquisition expected"),
        };
        let uploaded = match format {
            VolumeFormat::U16 => {
                let v: Vec<u16> = slice.iter().map(|&x| x as u16).collect();
                mpr.upload_slice(gpu_volume, k, SliceTexels::U16(&v))
            }
            VolumeFormat::I16 => {
                let v: Vec<i16> = slice.iter().map(|&x| x as i16).collect();
                mpr.upload_slice(gpu_volume, k, SliceTexels::I16(&v))
            }
        };
        uploaded.expect("upload");
    }
}
