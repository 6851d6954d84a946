//! `rangsi-render`: draws DICOM frames with wgpu, natively and in the browser
//! (WebGPU where the browser offers an adapter, WebGL2 otherwise, chosen at run time).
//!
//! A frame's stored values are uploaded ONCE into a 16-bit integer texture
//! (`R16Sint` / `R16Uint`; `R32Float` for 32-bit and float data; `Rgba8Unorm` for
//! colour, already RGB, 8 bits a channel) and every display change — window/level,
//! zoom, pan, inversion — only rewrites a small uniform ([`ViewUniform`]); the
//! fragment shader (`shader/image.wgsl`) applies rescale, the VOI LINEAR window and
//! MONOCHROME1 inversion per pixel, to each channel of a colour frame alike (with
//! [`VoiWindow::COLOUR_AS_IS`] colour is shown unchanged).
//!
//! - [`Gpu`]: instance, adapter, device and queue, for a canvas/window or headless.
//! - [`Renderer`]: long-lived pipelines; [`GpuImage`]: one uploaded frame;
//!   [`Screen`]: a configured surface. A frame larger than the device's 2D texture
//!   limit (WebGL2: often 4096; mammograms are larger) is uploaded at full resolution
//!   as a grid of tiles ([`tile_grid`]) drawn one after another with the same view:
//!   the same texels one big texture would give, byte for byte, with no seams.
//! - [`ViewState`] and [`ViewUniform`]: the per-draw parameters (pure math, tested natively).
//! - [`MprRenderer`], [`GpuVolume`], [`MprView`]: planes and slabs through a volume in
//!   16-bit 3D textures (`shader/mpr.wgsl`), laid out by [`VolumeLayout`] within the
//!   device's limits and a memory budget; geometry from `rangsi-volume`.
//!   [`MprPaneCache`] keeps each pane drawn and redraws only the panes that changed,
//!   at reduced resolution while input lasts ([`PaneQuality::Preview`]).
//! - [`VrRenderer`], [`VrView`]: 3D volume rendering of the same [`GpuVolume`] by ray
//!   casting (`shader/vr.wgsl`): MIP, or a transfer function with shading, clip box,
//!   adaptive quality (an interactive view is a reduced-resolution preview with a
//!   coarser step), early ray termination and empty-space skipping; camera, transfer
//!   functions and the CPU oracle in `rangsi_volume::vr`.
//!
//! This crate knows nothing about Leptos or the DOM: the viewer hands it a
//! `wgpu::SurfaceTarget` (a canvas) and frame samples.
//!
//! Features: none. Builds for wasm32 (wgpu `webgpu` + `webgl`) and natively
//! (Vulkan, used by the golden-image tests on a software adapter such as lavapipe).

mod gpu;
mod image;
mod pane_cache;
mod pipeline;
mod readback;
mod renderer;
mod view;
mod volume;
mod vr;

pub use gpu::{Backend, Gpu, Screen};
pub use image::{FrameTexels, GpuImage, SampleFormat, TileRect, tile_grid};
pub use pane_cache::{MprPaneCache, PREVIEW_DIVISOR, PaneQuality};
/// An offscreen render target (tests and benchmarks draw into it).
pub use readback::target as offscreen_target;
pub use renderer::{DEFAULT_FRAME_BYTES, Renderer};
pub use view::{Orientation, ViewState, ViewUniform, VoiWindow};
pub use volume::{
    GpuVolume, MAX_BRICKS, MAX_PANES, MprRenderer, MprUniform, MprView, Pane, SliceTexels,
    VolumeFormat, VolumeLayout,
};
pub use vr::{
    BLOCK_SIZE, BlockAtlas, PREVIEW_MAX_SIDE, PREVIEW_SCALE, VrRenderer, VrUniform, VrView,
    preview_scale,
};
pub use wgpu;

/// Errors of GPU set-up, upload and drawing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    #[error("no graphics adapter: {0}")]
    NoAdapter(String),
    #[error("cannot open the graphics device: {0}")]
    Device(String),
    #[error("cannot draw into the canvas: {0}")]
    Surface(String),
    #[error("frame of {columns}×{rows} has {samples} samples, expected {expected}")]
    FrameSize {
        columns: u32,
        rows: u32,
        samples: usize,
        expected: usize,
    },
    #[error("a volume of {dims:?} voxels cannot be laid out in textures")]
    VolumeSize { dims: [u32; 3] },
    #[error("frame of {columns}×{rows} exceeds this device's texture limit of {limit}")]
    FrameTooLarge { columns: u32, rows: u32, limit: u32 },
}
