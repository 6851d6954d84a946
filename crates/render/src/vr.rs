//! Volume rendering on the GPU: [`VrRenderer`] ray-casts a [`GpuVolume`] (the bricks
//! MPR uploads) in `shader/vr.wgsl` — MIP, or compositing through a transfer function
//! with optional shading, inside a clip box, from an orbiting orthographic camera —
//! following the rules of `rangsi_volume::vr`, whose CPU `render_vr` is its oracle.
//!
//! Per draw only a uniform is written; the transfer function's LUT (a 1024×2
//! `Rgba32Float` texture: entries, then the occupancy counts of empty-space skipping) is
//! re-baked when the function changes. Empty-space skipping reads a min/max atlas of
//! 16³ blocks, built on the GPU by a render pass (`fs_blocks`) for a new volume and
//! then only in the block layers that newly arrived slices touch, so the viewer needs
//! no extra call as slices stream in (a slice uploaded twice with new values is not
//! noticed: upload into a new volume instead). Only textures and a uniform buffer are bound (WebGL2 has no storage
//! buffers in fragment shaders); the atlas is an `Rg32Sint` target, colour-renderable
//! on WebGL2 and WebGPU; a volume whose atlas would exceed the 2D texture limit is
//! drawn without skipping.
//!
//! Adaptive quality follows the view's `step_mm` ([`rangsi_volume::vr::Quality`]): a
//! view sampled as coarsely as [`Quality::Interactive`] (while the user drags) is also
//! drawn at 1/[`preview_scale`] of the resolution per axis (1/2, less on big canvases)
//! into an offscreen preview and upscaled bilinearly into the target (`fs_upscale`) —
//! invisible to the caller.
//! The ray caster is compiled per mode and per brick count ([`Variant`], created on
//! first use), so software rasterizers, which run both sides of every branch, pay
//! only for the code the view needs.

use wgpu::util::DeviceExt;

use crate::volume::VolumeFormat;
use crate::{Gpu, GpuVolume, RenderError, VolumeLayout};
use rangsi_volume::Affine;
use rangsi_volume::vr::{
    LUT_GROUPS, LUT_SIZE, MAX_SAMPLES, Quality, TransferFunction, VrMode, VrScene, grid_spacing,
};
use std::collections::HashMap;

/// What a VR view shows: the same description the CPU reference renders.
pub type VrView = VrScene;

/// Side of an empty-space-skipping block, in texture voxels.
pub const BLOCK_SIZE: u32 = 16;

/// Full-size pixels per preview pixel, along each axis, of a view drawn at
/// [`Quality::Interactive`], at the least: a quarter of the rays.
pub const PREVIEW_SCALE: u32 = 2;

/// The longest side of a preview, in rays: larger views are previewed at a larger
/// scale, so that dragging costs about the same on any canvas.
pub const PREVIEW_MAX_SIDE: u32 = 384;

/// The preview scale of `view` of a volume whose voxels map from patient space by
/// `voxel_from_patient`: when its step is as coarse as [`Quality::Interactive`]
/// ([`Quality::of_step`]), [`PREVIEW_SCALE`] or more, to keep within
/// [`PREVIEW_MAX_SIDE`]; else 1 (full resolution).
pub fn preview_scale(view: &VrView, voxel_from_patient: &Affine) -> u32 {
    let Some(spacing) = grid_spacing(voxel_from_patient) else {
        return 1;
    };
    let [w, h] = view.viewport_px;
    match Quality::of_step(view.step_mm, spacing) {
        Quality::Interactive if w > 1 && h > 1 => {
            PREVIEW_SCALE.max(w.max(h).div_ceil(PREVIEW_MAX_SIDE))
        }
        _ => 1,
    }
}

/// `struct Vr` of `shader/vr.wgsl`, byte for byte (224 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct VrUniform {
    pub voxel_from_patient: [[f32; 4]; 4],
    pub origin: [f32; 3],
    pub mm_per_px: f32,
    pub right: [f32; 3],
    pub step_mm: f32,
    pub down: [f32; 3],
    pub mode: f32,
    pub clip_min: [f32; 3],
    pub max_samples: f32,
    pub clip_max: [f32; 3],
    pub brick_depth: f32,
    pub dims: [f32; 3],
    pub srgb_target: f32,
    pub blocks: [f32; 3],
    pub skip: f32,
    pub viewport: [f32; 2],
    pub rescale: [f32; 2],
    pub window: [f32; 2],
    pub lut: [f32; 2],
    pub atlas_cols: f32,
    pub block_size: f32,
    pub early_alpha: f32,
    /// Full-size pixels per framebuffer pixel (above 1: a preview).
    pub px_scale: f32,
}

/// How the 16³ blocks of a layout are tiled in the 2D min/max atlas: k-layers of
/// `blocks[0] × blocks[1]` texels in `cols` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockAtlas {
    pub blocks: [u32; 3],
    pub cols: u32,
    pub size: [u32; 2],
}

impl BlockAtlas {
    pub fn for_layout(layout: &VolumeLayout) -> BlockAtlas {
        let blocks = layout.dims.map(|d| d.div_ceil(BLOCK_SIZE).max(1));
        let cols = (f64::from(blocks[2]).sqrt().ceil() as u32).max(1);
        let rows = blocks[2].div_ceil(cols);
        BlockAtlas {
            blocks,
            cols,
            size: [blocks[0] * cols, blocks[1] * rows],
        }
    }
}

impl VrUniform {
    /// The uniform of `view` for a volume laid out as `layout` whose source voxels map
    /// from patient space by `voxel_from_patient`; `atlas`: the block atlas, if any.
    pub fn new(
        view: &VrView,
        layout: &VolumeLayout,
        voxel_from_patient: &Affine,
        srgb_target: bool,
        atlas: Option<&BlockAtlas>,
    ) -> VrUniform {
        let f = |v: [f64; 3]| v.map(|x| x as f32);
        let texture_from_source = layout.texture_from_source();
        let to_texture = texture_from_source.then_after(voxel_from_patient);
        // The clip box in texture voxels (an axis-aligned scaling), within the grid.
        let clip = view.clip.within(layout.source);
        let hi_texture = layout.dims.map(|d| f64::from(d) - 1.0);
        let lo = texture_from_source.apply(clip.min).map(|x| x.max(0.0));
        let hi = texture_from_source.apply(clip.max);
        let hi = [0, 1, 2].map(|a| hi[a].min(hi_texture[a]));
        let lut = view.transfer_function.bake();
        let camera = &view.camera;
        let (mode, window) = match view.mode {
            VrMode::Mip { window } => (0.0, window),
            VrMode::Composite { shading } => (if shading { 2.0 } else { 1.0 }, [0.0, 1.0]),
        };
        let atlas = atlas.copied().unwrap_or(BlockAtlas {
            blocks: [1, 1, 1],
            cols: 1,
            size: [1, 1],
        });
        VrUniform {
            voxel_from_patient: to_texture.to_mat4_f32(),
            origin: f(camera.origin()),
            mm_per_px: camera.mm_per_pixel as f32,
            right: f(camera.view.right),
            step_mm: view.step_mm.max(1e-3) as f32,
            down: f(camera.view.down),
            mode,
            clip_min: f(lo),
            max_samples: MAX_SAMPLES as f32,
            clip_max: f(hi),
            brick_depth: layout.brick_depth as f32,
            dims: layout.dims.map(|x| x as f32),
            srgb_target: if srgb_target { 1.0 } else { 0.0 },
            blocks: atlas.blocks.map(|x| x as f32),
            skip: 0.0,
            viewport: view.viewport_px.map(|x| x as f32),
            rescale: [view.rescale_slope as f32, view.rescale_intercept as f32],
            window: window.map(|x| x as f32),
            lut: [lut.min as f32, lut.scale() as f32],
            atlas_cols: atlas.cols as f32,
            block_size: BLOCK_SIZE as f32,
            early_alpha: Quality::of_step(
                view.step_mm,
                grid_spacing(voxel_from_patient).unwrap_or([1.0; 3]),
            )
            .early_termination() as f32,
            px_scale: 1.0,
        }
    }
}

/// One compiled ray caster: the mode is a constant of the shader, and a volume in one
/// brick reads one texture without choosing per texel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Variant {
    format: VolumeFormat,
    /// 1, or [`crate::MAX_BRICKS`] (any).
    bricks: u32,
    /// 0 MIP, 1 composite, 2 composite shaded.
    mode: u32,
}

impl Variant {
    fn new(volume: &GpuVolume, mode: VrMode) -> Variant {
        Variant {
            format: volume.format,
            bricks: if volume.layout.bricks <= 1 {
                1
            } else {
                crate::MAX_BRICKS
            },
            mode: match mode {
                VrMode::Mip { .. } => 0,
                VrMode::Composite { shading: false } => 1,
                VrMode::Composite { shading: true } => 2,
            },
        }
    }

    /// The shader source: `shader/vr.wgsl` after the prelude it shares with MPR
    /// (bricks, `stored()`, `trilinear()`).
    fn source(self) -> String {
        crate::pipeline::volume_shader(include_str!("../shader/vr.wgsl"), self.format, self.bricks)
            .replace("RENDER_MODE", &self.mode.to_string())
    }
}

/// The reduced-resolution target of interactive views, kept while its size holds.
struct Preview {
    size: [u32; 2],
    view: wgpu::TextureView,
    bind_group: wgpu::BindGroup,
}

/// The min/max atlas of the volume drawn last.
struct Blocks {
    /// The volume it was built from (bind groups compare by identity), and which of
    /// its slices had arrived.
    volume: wgpu::BindGroup,
    loaded: Vec<bool>,
    atlas: BlockAtlas,
    view: wgpu::TextureView,
}

/// Pipelines, the uniform and the LUT for VR views of one target format.
pub struct VrRenderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    target_format: wgpu::TextureFormat,
    max_2d_side: u32,
    /// Ray casters by variant and the format they draw into (target or preview).
    pipelines: HashMap<(Variant, wgpu::TextureFormat), wgpu::RenderPipeline>,
    /// Atlas builders by variant (mode 0).
    block_pipelines: HashMap<Variant, wgpu::RenderPipeline>,
    upscale_pipeline: Option<wgpu::RenderPipeline>,
    volume_layouts: Vec<wgpu::BindGroupLayout>,
    frame_layout: wgpu::BindGroupLayout,
    build_layout: wgpu::BindGroupLayout,
    preview_layout: wgpu::BindGroupLayout,
    preview_sampler: wgpu::Sampler,
    uniform_buffer: wgpu::Buffer,
    build_bind_group: wgpu::BindGroup,
    lut_texture: wgpu::Texture,
    lut_view: wgpu::TextureView,
    lut_of: Option<TransferFunction>,
    empty_atlas: wgpu::TextureView,
    blocks: Option<Blocks>,
    preview: Option<Preview>,
    skipping: bool,
    previews: bool,
}

impl VrRenderer {
    pub fn new(gpu: &Gpu, target_format: wgpu::TextureFormat) -> VrRenderer {
        let device = &gpu.device;
        let uniform_entry = wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: wgpu::BufferSize::new(std::mem::size_of::<VrUniform>() as u64),
            },
            count: None,
        };
        let texture_entry = |binding, sample_type| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type,
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let frame_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("vr"),
            entries: &[
                uniform_entry,
                texture_entry(1, wgpu::TextureSampleType::Float { filterable: false }),
                texture_entry(2, wgpu::TextureSampleType::Sint),
            ],
        });
        let build_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("vr blocks"),
            entries: &[uniform_entry],
        });
        let uniform_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("vr"),
            contents: bytemuck::bytes_of(&VrUniform::default()),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let build_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("vr blocks"),
            layout: &build_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform_buffer.as_entire_binding(),
            }],
        });
        let lut_texture = texture_2d(
            device,
            "vr lut",
            [LUT_SIZE as u32, 2],
            wgpu::TextureFormat::Rgba32Float,
            wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        );
        let lut_view = lut_texture.create_view(&wgpu::TextureViewDescriptor::default());
        let empty_atlas = texture_2d(
            device,
            "vr no blocks",
            [1, 1],
            wgpu::TextureFormat::Rg32Sint,
            wgpu::TextureUsages::TEXTURE_BINDING,
        )
        .create_view(&wgpu::TextureViewDescriptor::default());
        let preview_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("vr preview"),
            entries: &[
                texture_entry(0, wgpu::TextureSampleType::Float { filterable: true }),
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let preview_sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("vr preview"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        // The same layout as MprRenderer's, so a GpuVolume's bind group fits both.
        let volume_layouts = [VolumeFormat::I16, VolumeFormat::U16]
            .map(|format| crate::pipeline::volume_layout(device, format))
            .into();
        VrRenderer {
            device: device.clone(),
            queue: gpu.queue.clone(),
            target_format,
            max_2d_side: device.limits().max_texture_dimension_2d,
            pipelines: HashMap::new(),
            block_pipelines: HashMap::new(),
            upscale_pipeline: None,
            volume_layouts,
            frame_layout,
            build_layout,
            preview_layout,
            preview_sampler,
            uniform_buffer,
            build_bind_group,
            lut_texture,
            lut_view,
            lut_of: None,
            empty_atlas,
            blocks: None,
            preview: None,
            skipping: true,
            previews: true,
        }
    }

    /// The pipeline of `variant`'s `entry` over bind groups 0 (`group0`), 1 (the
    /// volume) and `extra`, drawing into `target`.
    fn create_pipeline(
        &self,
        variant: Variant,
        label: &str,
        group0: &wgpu::BindGroupLayout,
        extra: Option<&wgpu::BindGroupLayout>,
        entry: &str,
        target: wgpu::TextureFormat,
    ) -> wgpu::RenderPipeline {
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("vr.wgsl"),
                source: wgpu::ShaderSource::Wgsl(variant.source().into()),
            });
        let mut groups = vec![group0, &self.volume_layouts[variant.format.index()]];
        groups.extend(extra);
        crate::pipeline::draw_pipeline(&self.device, label, &groups, &module, entry, target)
    }

    /// Compiles, on first use, the pipelines a draw of `variant` into `target` needs.
    fn prepare(&mut self, variant: Variant, target: wgpu::TextureFormat, upscale: bool) {
        if !self.pipelines.contains_key(&(variant, target)) {
            let p =
                self.create_pipeline(variant, "vr", &self.frame_layout, None, "fs_main", target);
            self.pipelines.insert((variant, target), p);
        }
        let builder = Variant { mode: 0, ..variant };
        if !self.block_pipelines.contains_key(&builder) {
            let p = self.create_pipeline(
                builder,
                "vr blocks",
                &self.build_layout,
                None,
                "fs_blocks",
                wgpu::TextureFormat::Rg32Sint,
            );
            self.block_pipelines.insert(builder, p);
        }
        if upscale && self.upscale_pipeline.is_none() {
            self.upscale_pipeline = Some(self.create_pipeline(
                builder,
                "vr upscale",
                &self.frame_layout,
                Some(&self.preview_layout),
                "fs_upscale",
                self.target_format,
            ));
        }
    }

    /// Makes the preview target fit a `viewport` drawn at 1/`scale` (anew when its
    /// size changes).
    fn fit_preview(&mut self, viewport: [u32; 2], scale: u32) {
        let size = viewport.map(|x| x.div_ceil(scale).max(1));
        if self.preview.as_ref().is_none_or(|p| p.size != size) {
            let texture = texture_2d(
                &self.device,
                "vr preview",
                size,
                self.preview_format(),
                wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            );
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("vr preview"),
                layout: &self.preview_layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::TextureView(&view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::Sampler(&self.preview_sampler),
                    },
                ],
            });
            self.preview = Some(Preview {
                size,
                view,
                bind_group,
            });
        }
    }

    /// The preview's format: filterable everywhere, sRGB when the target is (the ray
    /// caster then writes the same values into either).
    fn preview_format(&self) -> wgpu::TextureFormat {
        if self.target_format.is_srgb() {
            wgpu::TextureFormat::Rgba8UnormSrgb
        } else {
            wgpu::TextureFormat::Rgba8Unorm
        }
    }

    /// Turns empty-space skipping on or off (on by default; off for comparisons: the
    /// picture must not change).
    pub fn set_empty_space_skipping(&mut self, on: bool) {
        self.skipping = on;
    }

    /// Turns reduced-resolution previews of interactive views on or off (on by
    /// default; off to compare a preview with the full-resolution picture).
    pub fn set_previews(&mut self, on: bool) {
        self.previews = on;
    }

    /// Lets go of the min/max atlas, and with it the last drawn volume.
    pub fn release_volume(&mut self) {
        self.blocks = None;
    }

    /// Uploads the LUT of `tf` unless it is the one already uploaded.
    fn update_lut(&mut self, tf: &TransferFunction) {
        if self.lut_of.as_ref() == Some(tf) {
            return;
        }
        let lut = tf.bake();
        let mut texels: Vec<[f32; 4]> = lut.rgba.clone();
        let prefix = lut.occupancy_prefix();
        texels.extend((0..LUT_SIZE).map(|g| {
            let c = if g < LUT_GROUPS {
                prefix[g] as f32
            } else {
                0.0
            };
            [c, 0.0, 0.0, 0.0]
        }));
        self.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &self.lut_texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            bytemuck::cast_slice(&texels),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(LUT_SIZE as u32 * 16),
                rows_per_image: Some(2),
            },
            wgpu::Extent3d {
                width: LUT_SIZE as u32,
                height: 2,
                depth_or_array_layers: 1,
            },
        );
        self.lut_of = Some(tf.clone());
    }

    /// Makes the min/max atlas match `volume`; returns the block layers (k) to
    /// (re)build now: all of a new atlas, else those touched by slices that arrived
    /// since. `None` in `self.blocks` afterwards means: draw without skipping.
    fn update_blocks(&mut self, volume: &GpuVolume) -> Vec<u32> {
        let atlas = BlockAtlas::for_layout(&volume.layout);
        let layers = atlas.blocks[2];
        if let Some(b) = &mut self.blocks
            && b.volume == volume.bind_group
            && b.atlas == atlas
            && b.loaded.len() == volume.loaded.len()
        {
            let mut dirty = vec![false; layers as usize];
            for (k, (&now, was)) in volume.loaded.iter().zip(&mut b.loaded).enumerate() {
                if now && !*was {
                    *was = true;
                    if let Some(t) = volume.layout.texture_slice(k as u32) {
                        for z in layers_of_slice(t, layers) {
                            dirty[z as usize] = true;
                        }
                    }
                }
            }
            return (0..layers).filter(|&z| dirty[z as usize]).collect();
        }
        self.blocks = None;
        if atlas.size[0] > self.max_2d_side || atlas.size[1] > self.max_2d_side {
            return Vec::new();
        }
        let texture = texture_2d(
            &self.device,
            "vr blocks",
            atlas.size,
            wgpu::TextureFormat::Rg32Sint,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        self.blocks = Some(Blocks {
            volume: volume.bind_group.clone(),
            loaded: volume.loaded.clone(),
            atlas,
            view,
        });
        (0..layers).collect()
    }

    /// Draws `view` of `volume` (source voxels from patient space by
    /// `voxel_from_patient`) into `target`; an interactive view at reduced resolution
    /// ([`preview_scale`]).
    pub fn draw(
        &mut self,
        target: &wgpu::TextureView,
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        view: &VrView,
    ) {
        self.update_lut(&view.transfer_function);
        let build = self.update_blocks(volume);
        let atlas = self.blocks.as_ref().map(|b| b.atlas);
        let mut uniform = VrUniform::new(
            view,
            &volume.layout,
            voxel_from_patient,
            self.target_format.is_srgb(),
            atlas.as_ref(),
        );
        uniform.skip = if self.skipping && atlas.is_some() {
            1.0
        } else {
            0.0
        };
        let scale = if self.previews {
            preview_scale(view, voxel_from_patient)
        } else {
            1
        };
        uniform.px_scale = scale as f32;
        self.queue
            .write_buffer(&self.uniform_buffer, 0, bytemuck::bytes_of(&uniform));
        let variant = Variant::new(volume, view.mode);
        let ray_target = if scale > 1 {
            self.preview_format()
        } else {
            self.target_format
        };
        self.prepare(variant, ray_target, scale > 1);
        if scale > 1 {
            self.fit_preview(view.viewport_px, scale);
        }
        let atlas_view = self.blocks.as_ref().map_or(&self.empty_atlas, |b| &b.view);
        let frame_bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("vr"),
            layout: &self.frame_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: self.uniform_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&self.lut_view),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(atlas_view),
                },
            ],
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("vr") });
        let builder = Variant { mode: 0, ..variant };
        if let (false, Some(blocks), Some(pipeline)) = (
            build.is_empty(),
            &self.blocks,
            self.block_pipelines.get(&builder),
        ) {
            // Only the tiles of the layers to build; the others keep their values.
            let a = blocks.atlas;
            let all = build.len() == a.blocks[2] as usize;
            let load = if all {
                wgpu::LoadOp::Clear(wgpu::Color::BLACK)
            } else {
                wgpu::LoadOp::Load
            };
            let mut pass =
                crate::pipeline::begin_pass(&mut encoder, &blocks.view, "vr blocks", load);
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &self.build_bind_group, &[]);
            pass.set_bind_group(1, &volume.bind_group, &[]);
            if all {
                pass.draw(0..3, 0..1);
            } else {
                for z in build {
                    let (col, row) = (z % a.cols, z / a.cols);
                    pass.set_scissor_rect(
                        col * a.blocks[0],
                        row * a.blocks[1],
                        a.blocks[0],
                        a.blocks[1],
                    );
                    pass.draw(0..3, 0..1);
                }
            }
        }
        let clear = wgpu::LoadOp::Clear(wgpu::Color::BLACK);
        let preview = self.preview.as_ref().filter(|_| scale > 1);
        if let Some(pipeline) = self.pipelines.get(&(variant, ray_target)) {
            let into = preview.map_or(target, |p| &p.view);
            let mut pass = crate::pipeline::begin_pass(&mut encoder, into, "vr", clear);
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &frame_bind_group, &[]);
            pass.set_bind_group(1, &volume.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
        if let (Some(preview), Some(pipeline)) = (preview, &self.upscale_pipeline) {
            let mut pass = crate::pipeline::begin_pass(&mut encoder, target, "vr upscale", clear);
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &frame_bind_group, &[]);
            pass.set_bind_group(1, &volume.bind_group, &[]);
            pass.set_bind_group(2, &preview.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
        self.queue.submit([encoder.finish()]);
    }

    /// Draws offscreen and reads back tightly packed RGBA bytes (golden-image tests,
    /// benchmarks); an empty viewport gives no bytes.
    pub fn draw_offscreen(
        &mut self,
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        view: &VrView,
    ) -> Result<Vec<u8>, RenderError> {
        let [width, height] = view.viewport_px;
        if width == 0 || height == 0 {
            return Ok(Vec::new());
        }
        let texture = crate::readback::target(&self.device, self.target_format, width, height);
        let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
        self.draw(&target, volume, voxel_from_patient, view);
        crate::readback::read_rgba(&self.device, &self.queue, &texture)
    }
}

/// A 2D texture of one mip level.
fn texture_2d(
    device: &wgpu::Device,
    label: &str,
    [width, height]: [u32; 2],
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

/// The block layers whose min/max cover texture slice `t`: layer z spans slices
/// `16z − 1 ..= 16z + 17` (its blocks and a one-voxel margin).
fn layers_of_slice(t: u32, layers: u32) -> std::ops::RangeInclusive<u32> {
    let first = t.saturating_sub(BLOCK_SIZE + 1).div_ceil(BLOCK_SIZE);
    let last = ((t + 1) / BLOCK_SIZE).min(layers.saturating_sub(1));
    first..=last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_layout_matches_the_shader() {
        assert_eq!(std::mem::size_of::<VrUniform>(), 224);
    }

    #[test]
    fn the_shader_takes_its_sampling_from_the_prelude() {
        let variant = Variant {
            format: VolumeFormat::U16,
            bricks: 1,
            mode: 2,
        };
        let s = variant.source();
        assert!(s.contains("fn stored(") && s.contains("fn trilinear("));
        assert!(s.contains("const BRICKS: i32 = 1;") && s.contains("const MODE: i32 = 2;"));
        for marker in ["VOXEL_TEXTURE", "BRICK_COUNT", "RENDER_MODE"] {
            assert!(!s.contains(marker), "{marker}");
        }
        assert_eq!(s.matches("fn trilinear(").count(), 1);
    }

    #[test]
    fn clip_box_maps_to_texture_voxels_of_a_reduced_layout() {
        use rangsi_volume::vr::{Camera, ClipBox, Quality, ViewFrom};
        let layout = VolumeLayout::plan([512, 512, 300], 256, 1 << 30).expect("plan");
        assert_eq!(layout.reduction, [2, 2, 1]);
        let mut view = VrView {
            camera: Camera::new(ViewFrom::Anterior, [0.0; 3], 1.0),
            viewport_px: [64, 64],
            mode: VrMode::Composite { shading: true },
            transfer_function: TransferFunction::ct_bone(),
            clip: ClipBox::whole([512, 512, 300]),
            step_mm: Quality::Full.step_mm([0.7, 0.7, 1.0]),
            rescale_slope: 1.0,
            rescale_intercept: -1024.0,
        };
        let u = VrUniform::new(&view, &layout, &Affine::IDENTITY, false, None);
        // Source 0 and 511 are texture −0.25 and 255.25: kept within 0 ..= 255.
        assert_eq!((u.clip_min, u.clip_max), ([0.0; 3], [255.0, 255.0, 299.0]));
        assert_eq!((u.mode, u.step_mm, u.skip), (2.0, 0.35, 0.0));
        assert_eq!(u.lut, [-3024.0, 1023.0 / 6095.0]);
        view.clip = ClipBox {
            min: [100.5, -20.0, 10.0],
            max: [300.5, 600.0, 20.0],
        };
        let u = VrUniform::new(&view, &layout, &Affine::IDENTITY, false, None);
        assert_eq!(
            (u.clip_min, u.clip_max),
            ([50.0, 0.0, 10.0], [150.0, 255.0, 20.0])
        );
    }

    #[test]
    fn previews_are_for_interactive_views_and_bounded_in_size() {
        use rangsi_volume::vr::{Camera, ClipBox, ViewFrom};
        let spacing = [0.7, 0.7, 1.0];
        let voxel_from_patient = Affine {
            columns: [
                [1.0 / 0.7, 0.0, 0.0],
                [0.0, 1.0 / 0.7, 0.0],
                [0.0, 0.0, 1.0],
            ],
            translation: [0.0; 3],
        };
        let view = |quality: Quality, viewport_px| VrView {
            camera: Camera::new(ViewFrom::Anterior, [0.0; 3], 1.0),
            viewport_px,
            mode: VrMode::Mip {
                window: [40.0, 400.0],
            },
            transfer_function: TransferFunction::ct_bone(),
            clip: ClipBox::whole([512, 512, 300]),
            step_mm: quality.step_mm(spacing),
            rescale_slope: 1.0,
            rescale_intercept: -1024.0,
        };
        let scale = |q, v| preview_scale(&view(q, v), &voxel_from_patient);
        assert_eq!(scale(Quality::Full, [2048, 2048]), 1);
        assert_eq!(scale(Quality::Interactive, [96, 96]), 2);
        assert_eq!(scale(Quality::Interactive, [512, 300]), 2);
        assert_eq!(scale(Quality::Interactive, [1080, 1920]), 5);
        assert_eq!(scale(Quality::Interactive, [1, 512]), 1);
    }

    #[test]
    fn a_slice_dirties_the_layers_whose_margin_it_is_in() {
        assert_eq!(layers_of_slice(0, 4), 0..=0);
        assert_eq!(layers_of_slice(14, 4), 0..=0);
        assert_eq!(layers_of_slice(15, 4), 0..=1, "below layer 1's first slice");
        assert_eq!(layers_of_slice(17, 4), 0..=1, "layer 0's upper margin");
        assert_eq!(layers_of_slice(18, 4), 1..=1);
        assert_eq!(layers_of_slice(33, 4), 1..=2);
        assert_eq!(
            layers_of_slice(63, 4),
            3..=3,
            "the last layer has no successor"
        );
    }

    #[test]
    fn block_atlas_fits_large_volumes() {
        let l = VolumeLayout::plan([512, 512, 300], 2048, 1 << 30).expect("plan");
        let a = BlockAtlas::for_layout(&l);
        assert_eq!(a.blocks, [32, 32, 19]);
        assert_eq!((a.cols, a.size), (5, [160, 128]));
        let l = VolumeLayout::plan([512, 512, 3000], 2048, 2 << 30).expect("plan");
        let a = BlockAtlas::for_layout(&l);
        assert!(a.size[0] <= 2048 && a.size[1] <= 2048, "{a:?}");
    }
}
