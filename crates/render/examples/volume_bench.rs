//! Native half of `cargo xtask bench volume`: frame times of the MPR renderer (three
//! 512×512 panes in one pass, as the viewer draws them) and of the ray caster (MIP and
//! shaded composite, full and interactive quality, 512×512) on whatever Vulkan adapter
//! wgpu finds headless — Mesa's lavapipe on machines without a GPU.
//!
//! Input: the CT's voxels as one raw file of signed 16-bit little-endian samples, slice
//! after slice in ascending patient z, `--size` × `--size` per slice (the xtask writes
//! it from the DICOM files with pydicom), and the axial geometry of the series (first
//! slice's position, pixel spacing, slice gap, rescale). The volume is assembled by
//! `rangsi_volume::assemble` exactly as the viewer does, uploaded slice by slice, then
//! each case draws frames that change the view every time (scrolling one slice for
//! MPR, orbiting 3° for VR) and waits for the device after each draw, so a frame's time
//! is the whole GPU work of that frame.
//!
//! Prints one line per case, `native<TAB>key=value…` (what `bench volume` parses):
//! ```text
//! cargo run --release -p rangsi-render --example volume_bench -- \
//!   --raw ct.raw --size 512 --slices 300 --first -179.6,-179.6,-299.5 --spacing 0.7 \
//!   --gap 1 --intercept -1024 [--seconds 3] [--min-frames 3]
//! ```

use std::process::ExitCode;
use std::time::Instant;

use rangsi_render::{
    Gpu, MprRenderer, MprView, Pane, SliceTexels, VoiWindow, VolumeFormat, VrRenderer, VrView, wgpu,
};
use rangsi_volume::mpr::{Orientation, Plane, Slab};
use rangsi_volume::synthetic::Acquisition;
use rangsi_volume::vr::{Camera, ClipBox, Preset, Quality, ViewFrom, VrMode};
use rangsi_volume::{SliceSource, assemble};

const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
/// One pane, and the 3D view: 512 × 512 pixels.
const SIDE: u32 = 512;
/// The viewer's default CT window (mediastinum), for MPR and MIP.
const WINDOW: [f64; 2] = [40.0, 400.0];

#[derive(Debug)]
struct Args {
    raw: String,
    size: u32,
    slices: usize,
    first: [f64; 3],
    spacing: f64,
    gap: f64,
    slope: f64,
    intercept: f64,
    seconds: f64,
    min_frames: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        raw: String::new(),
        size: 512,
        slices: 0,
        first: [0.0; 3],
        spacing: 1.0,
        gap: 1.0,
        slope: 1.0,
        intercept: 0.0,
        seconds: 3.0,
        min_frames: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--raw" => a.raw = value,
            "--size" => a.size = num(&value)? as u32,
            "--slices" => a.slices = num(&value)? as usize,
            "--first" => {
                let v: Vec<f64> = value.split(',').map(num).collect::<Result<_, _>>()?;
                a.first = v
                    .try_into()
                    .map_err(|_| "--first needs x,y,z".to_string())?;
            }
            "--spacing" => a.spacing = num(&value)?,
            "--gap" => a.gap = num(&value)?,
            "--slope" => a.slope = num(&value)?,
            "--intercept" => a.intercept = num(&value)?,
            "--seconds" => a.seconds = num(&value)?,
            "--min-frames" => a.min_frames = num(&value)? as u32,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if a.raw.is_empty() || a.slices < 2 {
        return Err("usage: volume_bench --raw FILE --slices N [--size 512] --first x,y,z \
                    --spacing MM --gap MM [--slope S] [--intercept I] [--seconds S] [--min-frames N]"
            .into());
    }
    Ok(a)
}

/// Times `frame(i)` (which draws and waits for the device) until both `min_frames`
/// frames and `seconds` have passed; one untimed frame first. Returns per-frame ms.
fn time_frames(a: &Args, mut frame: impl FnMut(u32)) -> Vec<f64> {
    frame(0);
    let started = Instant::now();
    let mut times = Vec::new();
    let mut i = 1;
    while times.len() < a.min_frames as usize || started.elapsed().as_secs_f64() < a.seconds {
        let t = Instant::now();
        frame(i);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        i += 1;
    }
    times
}

fn emit(case: &str, quality: &str, times: &mut [f64]) {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let p = |q: f64| times[((n as f64 * q) as usize).min(n - 1)];
    let mean = times.iter().sum::<f64>() / n as f64;
    println!(
        "native\tcase={case}\tquality={quality}\tframes={n}\tmeanMs={mean:.1}\tp50Ms={:.1}\tp95Ms={:.1}\tminMs={:.1}\tmaxMs={:.1}",
        p(0.5),
        p(0.95),
        times[0],
        times[n - 1]
    );
}

fn run(a: &Args) -> Result<(), String> {
    let bytes = std::fs::read(&a.raw).map_err(|e| format!("{}: {e}", a.raw))?;
    let per_slice = (a.size as usize) * (a.size as usize);
    if bytes.len() != per_slice * a.slices * 2 {
        return Err(format!(
            "{}: {} bytes, expected {} × {}² × 2",
            a.raw,
            bytes.len(),
            a.slices,
            a.size
        ));
    }
    let gpu = pollster::block_on(Gpu::headless()).map_err(|e| format!("no Vulkan adapter: {e}"))?;
    let acq = Acquisition {
        row: [1.0, 0.0, 0.0],
        col: [0.0, 1.0, 0.0],
        first: a.first,
        n: a.slices,
        size: a.size,
        ps: a.spacing,
        gap: a.gap,
        shift_per_slice: [0.0; 3],
    };
    let assembly = assemble(&acq.slices()).map_err(|e| format!("not volumetric: {e:?}"))?;
    let volume = assembly
        .volumes
        .first()
        .ok_or("the assembly made no volume")?;
    let mpr = MprRenderer::new(&gpu, FORMAT);
    let mut gpu_volume = mpr
        .create_volume(volume.dims, VolumeFormat::I16, 1 << 30)
        .map_err(|e| format!("volume layout: {e}"))?;
    let started = Instant::now();
    for (k, source) in volume.slices.iter().enumerate() {
        let SliceSource::Exact(src) = source else {
            return Err("a regular series was expected".into());
        };
        let at = src.instance * per_slice * 2;
        let slice: Vec<i16> = bytes[at..at + per_slice * 2]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        mpr.upload_slice(&mut gpu_volume, k as u32, SliceTexels::I16(&slice))
            .map_err(|e| format!("upload: {e}"))?;
    }
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    println!(
        "env\tadapter={}\tdims={}x{}x{}\tbricks={}\tuploadMs={:.0}\ttextureBytes={}",
        gpu.adapter_name,
        volume.dims[0],
        volume.dims[1],
        volume.dims[2],
        gpu_volume.layout.bricks,
        started.elapsed().as_secs_f64() * 1000.0,
        gpu_volume.layout.bytes()
    );

    let target_texture =
        |w: u32, h: u32| rangsi_render::offscreen_target(&gpu.device, FORMAT, w, h);
    let wait = || {
        let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    };

    // MPR: the viewer's 2 × 2 grid, three 512² panes, one render pass; scrolling the
    // axial plane one slice per frame (the other two panes redrawn too, as the viewer does).
    let grid = target_texture(2 * SIDE, 2 * SIDE);
    let grid_view = grid.create_view(&wgpu::TextureViewDescriptor::default());
    let center = volume.center();
    let fov = f64::from(a.size) * a.spacing;
    let mpr_view = |plane: Plane| MprView {
        plane,
        viewport_px: [SIDE, SIDE],
        mm_per_pixel: fov / f64::from(SIDE),
        slab: Slab::THIN,
        slab_step_mm: a.spacing.min(a.gap),
        window: VoiWindow {
            center: WINDOW[0],
            width: WINDOW[1],
        },
        rescale_slope: a.slope,
        rescale_intercept: a.intercept,
        invert: false,
    };
    let mut times = time_frames(a, |i| {
        let z = f64::from(i % 100) - 50.0;
        let planes = [
            Plane::standard(Orientation::Axial, [center[0], center[1], center[2] + z]),
            Plane::standard(Orientation::Sagittal, center),
            Plane::standard(Orientation::Coronal, center),
        ];
        let panes: Vec<(MprView, Pane)> = planes
            .iter()
            .enumerate()
            .map(|(p, &plane)| {
                (
                    mpr_view(plane),
                    Pane {
                        target_size: [2 * SIDE, 2 * SIDE],
                        origin: [(p as u32 % 2) * SIDE, (p as u32 / 2) * SIDE],
                        clear: p == 0,
                    },
                )
            })
            .collect();
        mpr.draw_panes(&grid_view, &gpu_volume, &volume.voxel_from_patient, &panes);
        wait();
    });
    emit("mpr3", "full", &mut times);

    // VR: 512², the viewer's defaults (CT bone preset, shading on; MIP with the MPR
    // window), orbiting 3° per frame from the front.
    let mut vr = VrRenderer::new(&gpu, FORMAT);
    let square = target_texture(SIDE, SIDE);
    let square_view = square.create_view(&wgpu::TextureViewDescriptor::default());
    let camera = Camera::fit(volume, ViewFrom::Anterior, [SIDE, SIDE]);
    let cases = [
        ("vr-mip", VrMode::Mip { window: WINDOW }),
        ("vr-composite", VrMode::Composite { shading: true }),
    ];
    for (case, mode) in cases {
        for (quality, name) in [
            (Quality::Interactive, "interactive"),
            (Quality::Full, "full"),
        ] {
            let mut times = time_frames(a, |i| {
                let view = VrView {
                    camera: camera.orbit(3.0 * f64::from(i), 0.0),
                    viewport_px: [SIDE, SIDE],
                    mode,
                    transfer_function: Preset::CtBone.transfer_function(),
                    clip: ClipBox::whole(volume.dims),
                    step_mm: quality.step_mm(volume.spacing),
                    rescale_slope: a.slope,
                    rescale_intercept: a.intercept,
                };
                vr.draw(&square_view, &gpu_volume, &volume.voxel_from_patient, &view);
                wait();
            });
            emit(case, name, &mut times);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("volume_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
