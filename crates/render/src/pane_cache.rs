//! Kept MPR panes: each pane is drawn into a texture of its own and copied into the
//! canvas, and drawn again only when what it shows changed.
//!
//! Scrolling one pane of an MPR moves only that pane's plane (the others' planes
//! contain the scrolled direction), and crosshairs and labels are DOM overlays, so a
//! scroll frame needs one MPR pane, not three. On a software rasterizer (the rural
//! doctor's PC without a usable GPU) the MPR fragment shader, eight texel reads per
//! sample, is the whole cost, so this makes such frames about three times cheaper.
//!
//! Invariant: a kept pane is reused only when its [`MprView`], its volume (identity
//! and upload generation) and `voxel_from_patient` are all equal to what it was drawn
//! with; anything else draws it again. The copy is texel for texel (`shader/blit.wgsl`),
//! so the canvas is byte-identical to [`MprRenderer::draw_panes`]'s.

use rangsi_volume::Affine;

use crate::volume::{GpuVolume, MprRenderer, MprView, Pane};

/// What a kept pane was drawn from.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key {
    view: MprView,
    volume: u64,
    generation: u64,
    voxel_from_patient: Affine,
}

struct Slot {
    key: Key,
    /// Where the pane goes in the target (top-left pixel).
    origin: [u32; 2],
    texture: wgpu::TextureView,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// The kept panes of one canvas, and the copy pipeline.
#[derive(Default)]
pub struct MprPaneCache {
    slots: Vec<Option<Slot>>,
    blit: Option<(wgpu::RenderPipeline, wgpu::BindGroupLayout)>,
    /// Panes the last [`MprRenderer::draw_panes_cached`] drew (the rest were copied).
    pub last_drawn: usize,
}

impl MprPaneCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every kept pane (their textures are freed).
    pub fn clear(&mut self) {
        self.slots.clear();
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BlitUniform {
    origin: [f32; 2],
    _pad: [f32; 2],
}

impl MprRenderer {
    /// Like [`MprRenderer::draw_panes`] (the whole target is cleared first), but each
    /// pane is drawn into `cache` only when it changed and then copied into `target`.
    pub fn draw_panes_cached(
        &self,
        cache: &mut MprPaneCache,
        target: &wgpu::TextureView,
        target_size: [u32; 2],
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        panes: &[(MprView, [u32; 2])],
    ) {
        let device = &self.device;
        let (pipeline, layout) = cache.blit.get_or_insert_with(|| {
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("mpr blit"),
                entries: &[
                    wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    },
                    wgpu::BindGroupLayoutEntry {
                        binding: 1,
                        visibility: wgpu::ShaderStages::FRAGMENT,
                        ty: wgpu::BindingType::Texture {
                            sample_type: wgpu::TextureSampleType::Float { filterable: false },
                            view_dimension: wgpu::TextureViewDimension::D2,
                            multisampled: false,
                        },
                        count: None,
                    },
                ],
            });
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("blit.wgsl"),
                source: wgpu::ShaderSource::Wgsl(include_str!("../shader/blit.wgsl").into()),
            });
            let pipeline = crate::pipeline::draw_pipeline(
                device,
                "mpr blit",
                &[&layout],
                &module,
                "fs_main",
                self.target_format,
            );
            (pipeline, layout)
        });
        cache.slots.resize_with(panes.len(), || None);
        cache.last_drawn = 0;
        for ((view, origin), slot) in panes.iter().zip(cache.slots.iter_mut()) {
            let [w, h] = view.viewport_px;
            if w == 0 || h == 0 {
                *slot = None;
                continue;
            }
            let key = Key {
                view: *view,
                volume: volume.id,
                generation: volume.generation,
                voxel_from_patient: *voxel_from_patient,
            };
            let uniform = BlitUniform {
                origin: origin.map(|x| x as f32),
                _pad: [0.0; 2],
            };
            if let Some(s) = slot.as_mut().filter(|s| s.key == key) {
                s.origin = *origin;
                self.queue
                    .write_buffer(&s.uniform, 0, bytemuck::bytes_of(&uniform));
                continue;
            }
            // A texture of the pane's size, kept while the size stays.
            let reuse = slot
                .take()
                .filter(|s| s.key.view.viewport_px == view.viewport_px);
            let s = match reuse {
                Some(s) => Slot {
                    key,
                    origin: *origin,
                    ..s
                },
                None => {
                    let texture = device
                        .create_texture(&wgpu::TextureDescriptor {
                            label: Some("mpr pane"),
                            size: wgpu::Extent3d {
                                width: w,
                                height: h,
                                depth_or_array_layers: 1,
                            },
                            mip_level_count: 1,
                            sample_count: 1,
                            dimension: wgpu::TextureDimension::D2,
                            format: self.target_format,
                            usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                                | wgpu::TextureUsages::TEXTURE_BINDING,
                            view_formats: &[],
                        })
                        .create_view(&wgpu::TextureViewDescriptor::default());
                    let uniform = device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("mpr blit"),
                        size: std::mem::size_of::<BlitUniform>() as u64,
                        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    });
                    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("mpr blit"),
                        layout,
                        entries: &[
                            wgpu::BindGroupEntry {
                                binding: 0,
                                resource: uniform.as_entire_binding(),
                            },
                            wgpu::BindGroupEntry {
                                binding: 1,
                                resource: wgpu::BindingResource::TextureView(&texture),
                            },
                        ],
                    });
                    Slot {
                        key,
                        origin: *origin,
                        texture,
                        uniform,
                        bind_group,
                    }
                }
            };
            self.draw_panes(
                &s.texture,
                volume,
                voxel_from_patient,
                &[(
                    *view,
                    Pane {
                        target_size: view.viewport_px,
                        origin: [0, 0],
                        clear: true,
                    },
                )],
            );
            self.queue
                .write_buffer(&s.uniform, 0, bytemuck::bytes_of(&uniform));
            cache.last_drawn += 1;
            *slot = Some(s);
        }
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("mpr blit"),
        });
        {
            let mut pass = crate::pipeline::begin_pass(
                &mut encoder,
                target,
                "mpr blit",
                wgpu::LoadOp::Clear(wgpu::Color::BLACK),
            );
            pass.set_pipeline(pipeline);
            let [tw, th] = target_size;
            pass.set_viewport(0.0, 0.0, tw as f32, th as f32, 0.0, 1.0);
            for s in cache.slots.iter().flatten() {
                // The pane's rectangle, within the target.
                let [x, y] = s.origin;
                let [w, h] = s.key.view.viewport_px;
                if x >= tw || y >= th {
                    continue;
                }
                pass.set_scissor_rect(x, y, w.min(tw - x), h.min(th - y));
                pass.set_bind_group(0, &s.bind_group, &[]);
                pass.draw(0..3, 0..1);
            }
        }
        self.queue.submit([encoder.finish()]);
    }

    /// [`MprRenderer::draw_panes_cached`] offscreen, read back as RGBA bytes (tests).
    pub fn draw_panes_cached_offscreen(
        &self,
        cache: &mut MprPaneCache,
        size: [u32; 2],
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        panes: &[(MprView, [u32; 2])],
    ) -> Result<Vec<u8>, crate::RenderError> {
        let texture = crate::readback::target(&self.device, self.target_format, size[0], size[1]);
        let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
        self.draw_panes_cached(cache, &target, size, volume, voxel_from_patient, panes);
        crate::readback::read_rgba(&self.device, &self.queue, &texture)
    }
}
