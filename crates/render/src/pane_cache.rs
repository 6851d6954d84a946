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
//!
//! Previews: while the user drags or scrolls, a pane that must be drawn again can be
//! drawn at [`PaneQuality::Preview`], a quarter of its pixels ([`PREVIEW_DIVISOR`]
//! per side, the same plane and extent), and stretched bilinearly by the copy. This
//! is for software rasterizers, where the MPR shader's cost is per pixel. A preview
//! is never kept as if it were full quality: a [`PaneQuality::Full`] frame draws
//! every previewed pane again at full resolution ([`MprPaneCache::previews`] says how
//! many the canvas shows), and the full-quality path is unchanged, texel for texel.

use rangsi_volume::Affine;

use crate::volume::{GpuVolume, MprRenderer, MprView, Pane};

/// Pixels per side of a full-resolution pane for each pixel of its preview.
pub const PREVIEW_DIVISOR: u32 = 2;

/// How [`MprRenderer::draw_panes_cached`] draws the panes that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaneQuality {
    /// At full resolution; previewed panes are drawn again even if unchanged.
    #[default]
    Full,
    /// At 1/[`PREVIEW_DIVISOR`] of the resolution per side (while input lasts); kept
    /// panes of either quality are reused.
    Preview,
}

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
    /// Full-resolution pixels per side of one texel of `texture` (1: full quality).
    divisor: u32,
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

/// The preview of a `view`: 1/`divisor` of its pixels per side (rounded up) over the
/// same extent of the same plane. The plane's centre moves by the rounding so that
/// preview pixel `(i, j)` is centred on the full pixels `divisor·(i, j) … +divisor−1`.
fn reduced(view: &MprView, divisor: u32) -> MprView {
    if divisor <= 1 {
        return *view;
    }
    let d = f64::from(divisor);
    let [w, h] = view.viewport_px;
    let small = [w.div_ceil(divisor), h.div_ceil(divisor)];
    // The preview covers `small·d` full pixels from the pane's top-left corner; its
    // centre lies (small·d − w)/2 full pixels right of (and below) the pane's.
    let shift = [0, 1].map(|a| (f64::from(small[a]) * d - f64::from(view.viewport_px[a])) / 2.0);
    let mm = view.mm_per_pixel;
    let mut plane = view.plane;
    for a in 0..3 {
        plane.center[a] += (plane.right[a] * shift[0] + plane.down[a] * shift[1]) * mm;
    }
    MprView {
        plane,
        viewport_px: small,
        mm_per_pixel: mm * d,
        ..*view
    }
}

impl MprPaneCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every kept pane (their textures are freed).
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// Kept panes that are previews (reduced resolution): a [`PaneQuality::Full`]
    /// frame draws them again.
    pub fn previews(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|s| s.divisor > 1)
            .count()
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BlitUniform {
    origin: [f32; 2],
    /// Full-resolution pixels per texel of the kept pane (1: texel for texel).
    divisor: f32,
    _pad: f32,
}

impl MprRenderer {
    /// Like [`MprRenderer::draw_panes`] (the whole target is cleared first), but each
    /// pane is drawn into `cache` only when it changed and then copied into `target`;
    /// `quality` says at which resolution changed panes are drawn (see the module).
    #[allow(clippy::too_many_arguments)]
    pub fn draw_panes_cached(
        &self,
        cache: &mut MprPaneCache,
        target: &wgpu::TextureView,
        target_size: [u32; 2],
        volume: &GpuVolume,
        voxel_from_patient: &Affine,
        panes: &[(MprView, [u32; 2])],
        quality: PaneQuality,
    ) {
        let divisor = match quality {
            PaneQuality::Full => 1,
            PaneQuality::Preview => PREVIEW_DIVISOR,
        };
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
            // A kept pane is reused if it shows this view at least at the quality
            // asked for (a full-quality pane is kept during a preview frame).
            if let Some(s) = slot
                .as_mut()
                .filter(|s| s.key == key && s.divisor <= divisor)
            {
                s.origin = *origin;
                let uniform = BlitUniform {
                    origin: origin.map(|x| x as f32),
                    divisor: s.divisor as f32,
                    _pad: 0.0,
                };
                self.queue
                    .write_buffer(&s.uniform, 0, bytemuck::bytes_of(&uniform));
                continue;
            }
            let drawn_view = reduced(view, divisor);
            let [w, h] = drawn_view.viewport_px;
            // A texture of the drawn size, kept while the size stays.
            let reuse = slot
                .take()
                .filter(|s| s.divisor == divisor && s.key.view.viewport_px == view.viewport_px);
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
                        divisor,
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
                    drawn_view,
                    Pane {
                        target_size: drawn_view.viewport_px,
                        origin: [0, 0],
                        clear: true,
                    },
                )],
            );
            let uniform = BlitUniform {
                origin: origin.map(|x| x as f32),
                divisor: divisor as f32,
                _pad: 0.0,
            };
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
        quality: PaneQuality,
    ) -> Result<Vec<u8>, crate::RenderError> {
        let texture = crate::readback::target(&self.device, self.target_format, size[0], size[1]);
        let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
        self.draw_panes_cached(
            cache,
            &target,
            size,
            volume,
            voxel_from_patient,
            panes,
            quality,
        );
        crate::readback::read_rgba(&self.device, &self.queue, &texture)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rangsi_volume::mpr::{Orientation, Plane, Slab};

    /// The patient position of a preview pixel's centre is that of the full pane at
    /// the centre of the full pixels it stands for, for even and odd pane sizes.
    #[test]
    fn a_preview_covers_the_same_plane_extent() {
        for size in [[512, 512], [5, 7], [1, 2]] {
            let view = MprView {
                plane: Plane::standard(Orientation::Coronal, [3.0, -4.0, 5.0]),
                viewport_px: size,
                mm_per_pixel: 0.7,
                slab: Slab::THIN,
                slab_step_mm: 1.0,
                window: crate::VoiWindow {
                    center: 40.0,
                    width: 400.0,
                },
                rescale_slope: 1.0,
                rescale_intercept: 0.0,
                invert: false,
            };
            // Patient position of continuous pixel coordinate `px` of `v`.
            let at = |v: &MprView, px: [f64; 2]| {
                let uv =
                    [0, 1].map(|a| (px[a] - f64::from(v.viewport_px[a]) / 2.0) * v.mm_per_pixel);
                [0, 1, 2]
                    .map(|k| v.plane.center[k] + v.plane.right[k] * uv[0] + v.plane.down[k] * uv[1])
            };
            let d = PREVIEW_DIVISOR;
            let small = reduced(&view, d);
            assert_eq!(small.viewport_px, size.map(|x| x.div_ceil(d)));
            for (i, j) in [
                (0, 0),
                (1, 0),
                (small.viewport_px[0] - 1, small.viewport_px[1] - 1),
            ] {
                let p = at(&small, [f64::from(i) + 0.5, f64::from(j) + 0.5]);
                let q = at(
                    &view,
                    [
                        f64::from(d * i) + f64::from(d) / 2.0,
                        f64::from(d * j) + f64::from(d) / 2.0,
                    ],
                );
                for k in 0..3 {
                    assert!(
                        (p[k] - q[k]).abs() < 1e-9,
                        "{size:?} ({i},{j}): {p:?} vs {q:?}"
                    );
                }
            }
            assert_eq!(reduced(&view, 1), view);
        }
    }
}
