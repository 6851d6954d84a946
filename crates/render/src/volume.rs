//! MPR on the GPU: a volume uploaded once, slice by slice as the slices arrive, into
//! 16-bit 3D textures, and drawn as any plane or slab through it by
//! `shader/mpr.wgsl`; every plane move, rotation, slab or window change only rewrites
//! the [`MprUniform`].
//!
//! [`VolumeLayout`] plans the textures within the device's limits: up to
//! [`MAX_BRICKS`] bricks stacked along k, each within the 3D texture limit, and a
//! memory budget; a volume beyond them is reduced by an integer factor per axis (box
//! mean in-plane, every n-th slice along k) and [`VolumeLayout::reduction`] says so,
//! never a failed allocation or a lost context. The CPU side keeps no copy: each
//! slice is written to its texture and dropped.

use crate::{Gpu, RenderError, VoiWindow};
use rangsi_volume::mpr::{Plane, Slab, SlabMode};
use rangsi_volume::{Affine, Vec3};

/// Most textures one volume is split into along k (one binding each in the shader).
pub const MAX_BRICKS: u32 = 4;

/// Stored value type of a volume's texture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeFormat {
    I16,
    U16,
}

impl VolumeFormat {
    fn texture_format(self) -> wgpu::TextureFormat {
        match self {
            VolumeFormat::I16 => wgpu::TextureFormat::R16Sint,
            VolumeFormat::U16 => wgpu::TextureFormat::R16Uint,
        }
    }

    pub(crate) fn sample_type(self) -> wgpu::TextureSampleType {
        match self {
            VolumeFormat::I16 => wgpu::TextureSampleType::Sint,
            VolumeFormat::U16 => wgpu::TextureSampleType::Uint,
        }
    }

    pub(crate) fn wgsl_type(self) -> &'static str {
        match self {
            VolumeFormat::I16 => "texture_3d<i32>",
            VolumeFormat::U16 => "texture_3d<u32>",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// One slice's stored values, row by row.
#[derive(Debug, Clone, Copy)]
pub enum SliceTexels<'a> {
    I16(&'a [i16]),
    U16(&'a [u16]),
}

impl SliceTexels<'_> {
    fn len(&self) -> usize {
        match self {
            SliceTexels::I16(v) => v.len(),
            SliceTexels::U16(v) => v.len(),
        }
    }

    fn format(&self) -> VolumeFormat {
        match self {
            SliceTexels::I16(_) => VolumeFormat::I16,
            SliceTexels::U16(_) => VolumeFormat::U16,
        }
    }
}

/// How a volume of `source` voxels is laid out in textures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeLayout {
    /// Voxels of the series (columns, rows, slices).
    pub source: [u32; 3],
    /// Integer reduction per axis (1 = full resolution).
    pub reduction: [u32; 3],
    /// Texture voxels per axis (all bricks together along k).
    pub dims: [u32; 3],
    /// Slices per brick (the last brick may hold fewer).
    pub brick_depth: u32,
    pub bricks: u32,
}

impl VolumeLayout {
    /// Plans `source` within a 3D texture limit of `max_side` voxels and `budget_bytes`
    /// of texture memory (2 bytes a voxel).
    pub fn plan(
        source: [u32; 3],
        max_side: u32,
        budget_bytes: u64,
    ) -> Result<VolumeLayout, RenderError> {
        if source.contains(&0) {
            return Err(RenderError::VolumeSize { dims: source });
        }
        let max_side = max_side.max(16);
        // One in-plane factor for columns and rows keeps the pixel aspect.
        let in_plane = source[0].max(source[1]).div_ceil(max_side);
        let mut reduction = [
            in_plane,
            in_plane,
            source[2].div_ceil(max_side * MAX_BRICKS),
        ];
        loop {
            let dims = [0, 1, 2].map(|a| source[a].div_ceil(reduction[a]));
            let bytes = dims.iter().map(|&d| u64::from(d)).product::<u64>() * 2;
            if bytes <= budget_bytes.max(2) {
                let brick_depth = dims[2].min(max_side);
                return Ok(VolumeLayout {
                    source,
                    reduction,
                    dims,
                    brick_depth,
                    bricks: dims[2].div_ceil(brick_depth),
                });
            }
            // Reduce where the texture has the most voxels, in-plane first on a tie.
            if dims[0].max(dims[1]) >= dims[2] && dims[0].max(dims[1]) > 1 {
                reduction[0] += 1;
                reduction[1] += 1;
            } else if dims[2] > 1 {
                reduction[2] += 1;
            } else {
                return Err(RenderError::VolumeSize { dims: source });
            }
        }
    }

    pub fn is_reduced(&self) -> bool {
        self.reduction != [1, 1, 1]
    }

    /// Texture voxel coordinate of a source voxel coordinate: a box mean of `r`
    /// columns/rows is centred at `(r − 1)/2`; along k every `r`-th slice is kept.
    pub fn texture_from_source(&self) -> Affine {
        let r = self.reduction.map(f64::from);
        Affine {
            columns: [
                [1.0 / r[0], 0.0, 0.0],
                [0.0, 1.0 / r[1], 0.0],
                [0.0, 0.0, 1.0 / r[2]],
            ],
            translation: [-(r[0] - 1.0) / 2.0 / r[0], -(r[1] - 1.0) / 2.0 / r[1], 0.0],
        }
    }

    /// The texture slice a source slice goes to, if it is kept.
    pub fn texture_slice(&self, k: u32) -> Option<u32> {
        (k < self.source[2] && k.is_multiple_of(self.reduction[2])).then(|| k / self.reduction[2])
    }

    /// Bytes of texture memory.
    pub fn bytes(&self) -> u64 {
        self.dims.iter().map(|&d| u64::from(d)).product::<u64>() * 2
    }
}

/// A volume on the GPU.
pub struct GpuVolume {
    pub layout: VolumeLayout,
    pub format: VolumeFormat,
    bricks: Vec<wgpu::Texture>,
    pub(crate) bind_group: wgpu::BindGroup,
    pub(crate) loaded: Vec<bool>,
    /// Unique among the volumes of this process, and bumped by every upload: what
    /// [`crate::MprPaneCache`] compares to know a kept pane is still what it shows.
    pub(crate) id: u64,
    pub(crate) generation: u64,
}

impl GpuVolume {
    /// Source slices uploaded so far (kept ones only count once reduced).
    pub fn loaded_slices(&self) -> usize {
        self.loaded.iter().filter(|&&b| b).count()
    }
}

/// What an MPR view shows: a plane of patient space, its scale, slab and window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MprView {
    pub plane: Plane,
    pub viewport_px: [u32; 2],
    pub mm_per_pixel: f64,
    pub slab: Slab,
    /// Distance between slab samples along the normal (mm): the smallest voxel spacing.
    pub slab_step_mm: f64,
    pub window: VoiWindow,
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
    pub invert: bool,
}

/// `struct Mpr` of `shader/mpr.wgsl`, byte for byte (192 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MprUniform {
    pub voxel_from_patient: [[f32; 4]; 4],
    pub center: [f32; 3],
    pub mm_per_px: f32,
    pub right: [f32; 3],
    pub slab_step_mm: f32,
    pub down: [f32; 3],
    pub slab_half: f32,
    pub viewport: [f32; 2],
    pub mode: f32,
    pub invert: f32,
    pub window: [f32; 2],
    pub rescale: [f32; 2],
    pub dims: [f32; 3],
    pub brick_depth: f32,
    pub srgb_target: f32,
    pub _pad: f32,
    /// Top-left framebuffer pixel of the pane drawn into.
    pub origin: [f32; 2],
    /// Size of the whole target in framebuffer pixels.
    pub target: [f32; 2],
    pub _pad2: [f32; 2],
}

impl MprView {
    /// The uniform for a volume laid out as `layout` whose source voxels map from
    /// patient space by `voxel_from_patient`.
    pub fn uniform(
        &self,
        layout: &VolumeLayout,
        voxel_from_patient: &Affine,
        srgb_target: bool,
    ) -> MprUniform {
        let f = |v: Vec3| v.map(|x| x as f32);
        let to_texture = layout.texture_from_source().then_after(voxel_from_patient);
        let step = self.slab_step_mm.max(1e-3);
        MprUniform {
            voxel_from_patient: to_texture.to_mat4_f32(),
            center: f(self.plane.center),
            mm_per_px: self.mm_per_pixel as f32,
            right: f(self.plane.right),
            slab_step_mm: step as f32,
            down: f(self.plane.down),
            // The same sample count as rangsi_volume::mpr::render, at most 256 a side.
            slab_half: (self.slab.thickness_mm / 2.0 / step)
                .floor()
                .clamp(0.0, 256.0) as f32,
            viewport: self.viewport_px.map(|x| x as f32),
            mode: match self.slab.mode {
                SlabMode::Average => 0.0,
                SlabMode::Mip => 1.0,
                SlabMode::MinIp => 2.0,
            },
            invert: if self.invert { 1.0 } else { 0.0 },
            window: [self.window.center as f32, self.window.width as f32],
            rescale: [self.rescale_slope as f32, self.rescale_intercept as f32],
            dims: layout.dims.map(|x| x as f32),
            brick_depth: layout.brick_depth as f32,
            srgb_target: if srgb_target { 1.0 } else { 0.0 },
            _pad: 0.0,
            origin: [0.0; 2],
            target: self.viewport_px.map(|x| x as f32),
            _pad2: [0.0; 2],
        }
    }
}

/// Where a pane goes: the whole target's size, the pane's top-left pixel (its size
/// is the view's `viewport_px`), and whether the whole target is cleared first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pane {
    pub target_size: [u32; 2],
    pub origin: [u32; 2],
    pub clear: bool,
}

/// Pipelines and the uniform for MPR views of one target format.
pub struct MprRenderer {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) target_format: wgpu::TextureFormat,
    max_3d_side: u32,
    /// By format, then one brick / any number of bricks.
    pipelines: Vec<wgpu::RenderPipeline>,
    volume_layouts: Vec<wgpu::BindGroupLayout>,
    uniform_buffer: wgpu::Buffer,
    uniform_bind_group: wgpu::BindGroup,
    /// Bytes between the panes' uniform slots.
    uniform_stride: u64,
}

/// Most panes [`MprRenderer::draw_panes`] draws in one pass.
pub const MAX_PANES: usize = 4;

impl MprRenderer {
    pub fn new(gpu: &Gpu, target_format: wgpu::TextureFormat) -> MprRenderer {
        let device = &gpu.device;
        let uniform_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mpr"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(
                        std::mem::size_of::<MprUniform>() as u64
                    ),
                },
                count: None,
            }],
        });
        // One uniform slot per pane, at the device's offset alignment: all panes of a
        // canvas are drawn in one render pass with dynamic offsets.
        let align = u64::from(device.limits().min_uniform_buffer_offset_alignment).max(1);
        let stride = (std::mem::size_of::<MprUniform>() as u64).div_ceil(align) * align;
        let uniform_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("mpr"),
            size: stride * MAX_PANES as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let uniform_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("mpr"),
            layout: &uniform_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &uniform_buffer,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<MprUniform>() as u64),
                }),
            }],
        });
        // Per format, one pipeline for a volume in one brick (one texture read per
        // texel, no choice of brick: software rasterizers run every branch) and one
        // for any number of bricks.
        let mut pipelines = Vec::new();
        let mut volume_layouts = Vec::new();
        for format in [VolumeFormat::I16, VolumeFormat::U16] {
            let volume_layout = crate::pipeline::volume_layout(device, format);
            for bricks in [1, MAX_BRICKS] {
                let source = crate::pipeline::volume_shader(
                    include_str!("../shader/mpr.wgsl"),
                    format,
                    bricks,
                );
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some("mpr.wgsl"),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
                pipelines.push(crate::pipeline::draw_pipeline(
                    device,
                    "mpr",
                    &[&uniform_layout, &volume_layout],
                    &module,
                    "fs_main",
                    target_format,
                ));
            }
            volume_layouts.push(volume_layout);
        }
        MprRenderer {
            device: device.clone(),
            queue: gpu.queue.clone(),
            target_format,
            max_3d_side: device.limits().max_texture_dimension_3d,
            pipelines,
            volume_layouts,
            uniform_buffer,
            uniform_bind_group,
            uniform_stride: stride,
        }
    }

    /// The 3D texture side volumes are laid out within (the device's limit).
    pub fn max_3d_side(&self) -> u32 {
        self.max_3d_side
    }

    /// Lays volumes out within a smaller 3D side than the device allows (tests of the
    /// bricks and reductions, or to spare memory).
    pub fn limit_3d_side(&mut self, side: u32) {
        self.max_3d_side = self.max_3d_side.min(side.max(16));
    }

    /// Allocates the textures of a `source`-sized volume within `budget_bytes`.
    pub fn create_volume(
        &self,
        source: [u32; 3],
        format: VolumeFormat,
        budget_bytes: u64,
    ) -> Result<GpuVolume, RenderError> {
        let layout = VolumeLayout::plan(source, self.max_3d_side, budget_bytes)?;
        let brick = |depth: u32| {
            self.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("volume brick"),
                size: wgpu::Extent3d {
                    width: if depth == 0 { 1 } else { layout.dims[0] },
                    height: if depth == 0 { 1 } else { layout.dims[1] },
                    depth_or_array_layers: depth.max(1),
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D3,
                format: format.texture_format(),
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        };
        let bricks: Vec<wgpu::Texture> = (0..MAX_BRICKS)
            .map(|b| {
                let start = b * layout.brick_depth;
                brick(layout.dims[2].saturating_sub(start).min(layout.brick_depth))
            })
            .collect();
        let views: Vec<wgpu::TextureView> = bricks
            .iter()
            .map(|t| t.create_view(&wgpu::TextureViewDescriptor::default()))
            .collect();
        let entries: Vec<wgpu::BindGroupEntry> = views
            .iter()
            .enumerate()
            .map(|(b, v)| wgpu::BindGroupEntry {
                binding: b as u32,
                resource: wgpu::BindingResource::TextureView(v),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("volume"),
            layout: &self.volume_layouts[format.index()],
            entries: &entries,
        });
        Ok(GpuVolume {
            layout,
            format,
            bricks,
            bind_group,
            loaded: vec![false; source[2] as usize],
            id: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
            generation: 0,
        })
    }

    /// Writes source slice `k` (columns × rows stored values); slices a reduced layout
    /// does not keep are only marked as arrived.
    pub fn upload_slice(
        &self,
        volume: &mut GpuVolume,
        k: u32,
        texels: SliceTexels<'_>,
    ) -> Result<(), RenderError> {
        let l = volume.layout;
        let expected = l.source[0] as usize * l.source[1] as usize;
        if texels.len() != expected || texels.format() != volume.format || k >= l.source[2] {
            return Err(RenderError::FrameSize {
                columns: l.source[0],
                rows: l.source[1],
                samples: texels.len(),
                expected,
            });
        }
        volume.loaded[k as usize] = true;
        volume.generation += 1;
        let Some(t) = l.texture_slice(k) else {
            return Ok(());
        };
        let r = l.reduction[0];
        let bytes: Vec<u8> = if r == 1 {
            match texels {
                SliceTexels::I16(v) => bytemuck::cast_slice(v).to_vec(),
                SliceTexels::U16(v) => bytemuck::cast_slice(v).to_vec(),
            }
        } else {
            match texels {
                SliceTexels::I16(v) => {
                    let r =
                        crate::image::reduce(v, l.source[0], l.source[1], r, |x| x.round() as i16);
                    bytemuck::cast_slice(&r).to_vec()
                }
                SliceTexels::U16(v) => {
                    let r =
                        crate::image::reduce(v, l.source[0], l.source[1], r, |x| x.round() as u16);
                    bytemuck::cast_slice(&r).to_vec()
                }
            }
        };
        let b = t / l.brick_depth;
        self.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &volume.bricks[b as usize],
                mip_level: 0,
                origin: wgpu::Origin3d {
                    x: 0,
                    y: 0,
                    z: t - b * l.brick_depth,
                },
                aspect: wgpu::TextureAspect::All,
            },
            &bytes,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(l.dims[0] * 2),
                rows_per_image: Some(l.dims[1]),
            },
            wgpu::Extent3d {
                width: l.dims[0],
                height: l.dims[1],
                depth_or_array_layers: 1,
            },
        );
        Ok(())
    }

    /// Draws `view` of `volume` (source voxels from patient space by
    /// `voxel_from_patient`) into the whole of `target`.
    pub fn draw(
        &self,
        target: &wgpu::TextureView,
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        view: &MprView,
    ) {
        self.draw_pane(
            target,
            volume,
            voxel_from_patient,
            view,
            Pane {
                target_size: view.viewport_px,
                origin: [0, 0],
                clear: true,
            },
        );
    }

    /// Draws `view` into the pane of `target` whose top-left pixel is `origin` (its
    /// size is `view.viewport_px`); `clear` clears the whole target first, else what
    /// is outside the pane is kept (several panes of one canvas, one submit each).
    pub fn draw_pane(
        &self,
        target: &wgpu::TextureView,
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        view: &MprView,
        pane: Pane,
    ) {
        self.draw_panes(target, volume, voxel_from_patient, &[(*view, pane)]);
    }

    /// Draws up to [`MAX_PANES`] panes into `target` in one render pass (the first
    /// pane's `clear` decides whether the target is cleared first).
    pub fn draw_panes(
        &self,
        target: &wgpu::TextureView,
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        panes: &[(MprView, Pane)],
    ) {
        let panes = &panes[..panes.len().min(MAX_PANES)];
        for (k, (view, pane)) in panes.iter().enumerate() {
            let mut uniform = view.uniform(
                &volume.layout,
                voxel_from_patient,
                self.target_format.is_srgb(),
            );
            uniform.origin = pane.origin.map(|x| x as f32);
            uniform.target = pane.target_size.map(|x| x as f32);
            self.queue.write_buffer(
                &self.uniform_buffer,
                k as u64 * self.uniform_stride,
                bytemuck::bytes_of(&uniform),
            );
        }
        let clear = panes.first().is_none_or(|(_, p)| p.clear);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("mpr") });
        {
            let load = if clear {
                wgpu::LoadOp::Clear(wgpu::Color::BLACK)
            } else {
                wgpu::LoadOp::Load
            };
            let mut pass = crate::pipeline::begin_pass(&mut encoder, target, "mpr", load);
            let many_bricks = usize::from(volume.layout.bricks > 1);
            pass.set_pipeline(&self.pipelines[volume.format.index() * 2 + many_bricks]);
            pass.set_bind_group(1, &volume.bind_group, &[]);
            for (k, (view, _)) in panes.iter().enumerate() {
                let [w, h] = view.viewport_px;
                if w > 0 && h > 0 {
                    // The vertex shader draws the pane's rectangle itself: no viewport or
                    // scissor offsets (see shader/mpr.wgsl).
                    pass.set_bind_group(
                        0,
                        &self.uniform_bind_group,
                        &[(k as u64 * self.uniform_stride) as u32],
                    );
                    pass.draw(0..6, 0..1);
                }
            }
        }
        self.queue.submit([encoder.finish()]);
    }

    /// Draws offscreen and reads back tightly packed RGBA bytes (golden-image tests).
    pub fn draw_offscreen(
        &self,
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        view: &MprView,
    ) -> Result<Vec<u8>, RenderError> {
        self.draw_panes_offscreen(
            view.viewport_px,
            volume,
            voxel_from_patient,
            &[(*view, [0, 0])],
        )
    }

    /// Draws several panes (view, top-left pixel) into one `size` target and reads it
    /// back as RGBA bytes.
    pub fn draw_panes_offscreen(
        &self,
        size: [u32; 2],
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        panes: &[(MprView, [u32; 2])],
    ) -> Result<Vec<u8>, RenderError> {
        let texture = crate::readback::target(&self.device, self.target_format, size[0], size[1]);
        let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let panes: Vec<(MprView, Pane)> = panes
            .iter()
            .enumerate()
            .map(|(k, (view, origin))| {
                (
                    *view,
                    Pane {
                        target_size: size,
                        origin: *origin,
                        clear: k == 0,
                    },
                )
            })
            .collect();
        self.draw_panes(&target, volume, voxel_from_patient, &panes);
        crate::readback::read_rgba(&self.device, &self.queue, &texture)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_fits_limits_and_budget() {
        let l = VolumeLayout::plan([512, 512, 300], 2048, 1 << 30).expect("plan");
        assert_eq!(
            (l.reduction, l.dims, l.bricks),
            ([1, 1, 1], [512, 512, 300], 1)
        );
        // 3,000 slices over a 2,048 limit: two bricks, full resolution.
        let l = VolumeLayout::plan([512, 512, 3000], 2048, 2 << 30).expect("plan");
        assert_eq!((l.reduction, l.brick_depth, l.bricks), ([1, 1, 1], 2048, 2));
        // WebGL2's minimum 3D limit (256): in-plane halved, slices in bricks.
        let l = VolumeLayout::plan([512, 512, 300], 256, 1 << 30).expect("plan");
        assert_eq!(
            (l.reduction, l.dims, l.brick_depth, l.bricks),
            ([2, 2, 1], [256, 256, 300], 256, 2)
        );
        // A budget of 256 MiB for 1.5 GiB of voxels: reduced until it fits.
        let l = VolumeLayout::plan([512, 512, 3000], 2048, 256 << 20).expect("plan");
        assert!(
            l.bytes() <= 256 << 20 && l.is_reduced() && l.bricks <= MAX_BRICKS,
            "{l:?}"
        );
        assert!(VolumeLayout::plan([0, 512, 3], 2048, 1 << 30).is_err());
    }

    #[test]
    fn reduced_texture_coordinates_hit_the_box_centres() {
        let l = VolumeLayout::plan([512, 512, 300], 256, 1 << 30).expect("plan");
        let t = l.texture_from_source();
        // Source columns 0 and 1 average into texel 0: its centre is source 0.5.
        assert_eq!(t.apply([0.5, 0.5, 7.0]), [0.0, 0.0, 7.0]);
        assert_eq!(l.texture_slice(7), Some(7));
        let l = VolumeLayout {
            reduction: [1, 1, 3],
            ..l
        };
        assert_eq!((l.texture_slice(6), l.texture_slice(7)), (Some(2), None));
    }

    #[test]
    fn uniform_layout_matches_the_shader() {
        assert_eq!(std::mem::size_of::<MprUniform>(), 192);
    }
}
