//! [`Renderer`]: the long-lived pipelines (one per [`SampleFormat`]) and the view
//! uniform; uploads frames once and draws them with per-draw [`ViewState`]s.

use wgpu::util::DeviceExt;

use crate::image::{Tile, TileRect, TileUniform, tile_grid};
use crate::{FrameTexels, Gpu, GpuImage, RenderError, SampleFormat, ViewState, ViewUniform};

const IMAGE_WGSL: &str = include_str!("../shader/image.wgsl");

fn texel_wgsl(format: SampleFormat) -> &'static str {
    match format {
        SampleFormat::I16 => include_str!("../shader/texel_i16.wgsl"),
        SampleFormat::U16 => include_str!("../shader/texel_u16.wgsl"),
        SampleFormat::F32 => include_str!("../shader/texel_f32.wgsl"),
        SampleFormat::Rgba8 => include_str!("../shader/texel_rgba8.wgsl"),
    }
}

/// Default per-frame GPU memory budget ([`Renderer::limit_frame_bytes`]): 512 MiB, far
/// above any real radiograph (a 4096×5120 mammogram holds 40 MiB at 16 bits).
pub const DEFAULT_FRAME_BYTES: u64 = 512 << 20;

struct Variant {
    pipeline: wgpu::RenderPipeline,
    texture_layout: wgpu::BindGroupLayout,
}

/// Draws grayscale and colour frames into targets of one format.
pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    target_format: wgpu::TextureFormat,
    max_texture_side: u32,
    max_frame_bytes: u64,
    variants: Vec<Variant>,
    view_buffer: wgpu::Buffer,
    view_bind_group: wgpu::BindGroup,
}

impl Renderer {
    pub fn new(gpu: &Gpu, target_format: wgpu::TextureFormat) -> Renderer {
        let device = &gpu.device;
        let view_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("view"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: wgpu::BufferSize::new(
                        std::mem::size_of::<ViewUniform>() as u64
                    ),
                },
                count: None,
            }],
        });
        let view_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("view"),
            contents: bytemuck::bytes_of(&ViewUniform::default()),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let view_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("view"),
            layout: &view_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: view_buffer.as_entire_binding(),
            }],
        });
        let variants = SampleFormat::ALL
            .iter()
            .map(|&format| Self::variant(device, &view_layout, format, target_format))
            .collect();
        Renderer {
            device: gpu.device.clone(),
            queue: gpu.queue.clone(),
            target_format,
            max_texture_side: gpu.max_texture_side,
            max_frame_bytes: DEFAULT_FRAME_BYTES,
            variants,
            view_buffer,
            view_bind_group,
        }
    }

    fn variant(
        device: &wgpu::Device,
        view_layout: &wgpu::BindGroupLayout,
        format: SampleFormat,
        target_format: wgpu::TextureFormat,
    ) -> Variant {
        let texture_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("frame"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: format.sample_type(),
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(
                            std::mem::size_of::<TileUniform>() as u64
                        ),
                    },
                    count: None,
                },
            ],
        });
        let source = format!("{}\n{}", texel_wgsl(format), IMAGE_WGSL);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("image.wgsl"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = crate::pipeline::draw_pipeline(
            device,
            "image",
            &[view_layout, &texture_layout],
            &module,
            "fs_main",
            target_format,
        );
        Variant {
            pipeline,
            texture_layout,
        }
    }

    /// Uploads one frame (`columns`×`rows` samples, or RGBA pixels, row by row).
    pub fn upload(
        &self,
        columns: u32,
        rows: u32,
        texels: FrameTexels<'_>,
    ) -> Result<GpuImage, RenderError> {
        let expected = columns as usize * rows as usize;
        let whole = !matches!(texels, FrameTexels::Rgba8(v) if v.len() % 4 != 0);
        if texels.len() != expected || expected == 0 || !whole {
            return Err(RenderError::FrameSize {
                columns,
                rows,
                samples: texels.len(),
                expected,
            });
        }
        // Larger than the per-frame memory budget: reduce by the smallest integer
        // factor that fits, rather than fail; the viewer says so. A frame merely
        // larger than the texture limit (WebGL2: often 4096) is tiled at full size.
        let per = u64::from(texels.format().bytes_per_texel());
        let budget = self.max_frame_bytes.max(per);
        let k = (1..=columns.max(rows))
            .find(|&k| u64::from(columns.div_ceil(k)) * u64::from(rows.div_ceil(k)) * per <= budget)
            .unwrap_or(columns.max(rows));
        if k > 1 {
            let (tc, tr) = (columns.div_ceil(k), rows.div_ceil(k));
            let image = match texels {
                FrameTexels::I16(v) => {
                    let r = crate::image::reduce(v, columns, rows, k, |x| x.round() as i16);
                    self.upload_tiles(tc, tr, k, FrameTexels::I16(&r))
                }
                FrameTexels::U16(v) => {
                    let r = crate::image::reduce(v, columns, rows, k, |x| x.round() as u16);
                    self.upload_tiles(tc, tr, k, FrameTexels::U16(&r))
                }
                FrameTexels::F32(v) => {
                    let r = crate::image::reduce(v, columns, rows, k, |x| x as f32);
                    self.upload_tiles(tc, tr, k, FrameTexels::F32(&r))
                }
                FrameTexels::Rgba8(v) => {
                    let r = crate::image::reduce_rgba(v, columns, rows, k);
                    self.upload_tiles(tc, tr, k, FrameTexels::Rgba8(&r))
                }
            };
            return Ok(GpuImage {
                columns,
                rows,
                ..image
            });
        }
        Ok(self.upload_tiles(columns, rows, 1, texels))
    }

    /// Limits the texture side below the device's own limit (at least 3): frames
    /// larger than it are uploaded as tiles. For tests and benchmarks of the tiling on
    /// a device whose own limit is large, and for the viewer's `?maxTexture=` switch.
    pub fn limit_texture_side(&mut self, side: u32) {
        self.max_texture_side = self.max_texture_side.min(side.max(3));
    }

    /// Largest texture side frames are uploaded at.
    pub fn max_texture_side(&self) -> u32 {
        self.max_texture_side
    }

    /// Sets the per-frame GPU memory budget in bytes ([`DEFAULT_FRAME_BYTES`]): a frame
    /// whose texels would take more is reduced ([`GpuImage::reduction`]).
    pub fn limit_frame_bytes(&mut self, bytes: u64) {
        self.max_frame_bytes = bytes;
    }

    /// Uploads `texels` (`columns`×`rows`, each texel `scale` image pixels on a side)
    /// as one texture, or as tiles when it is larger than the texture limit.
    fn upload_tiles(
        &self,
        columns: u32,
        rows: u32,
        scale: u32,
        texels: FrameTexels<'_>,
    ) -> GpuImage {
        let format = texels.format();
        let tiles = tile_grid(columns, rows, self.max_texture_side)
            .into_iter()
            .map(|rect| self.upload_tile(columns, scale, rect, texels))
            .collect();
        GpuImage {
            format,
            tiles,
            columns,
            rows,
            reduction: scale,
        }
    }

    /// Uploads the stored rectangle of one tile straight from the frame's rows (no copy:
    /// the upload's row pitch is the frame's).
    fn upload_tile(
        &self,
        columns: u32,
        scale: u32,
        rect: TileRect,
        texels: FrameTexels<'_>,
    ) -> Tile {
        let format = texels.format();
        let (width, height) = rect.stored_size();
        let size = wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        };
        let texture = self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("frame"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: format.texture_format(),
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        let bytes_per_texel = format.bytes_per_texel();
        let [sx, sy, _, _] = rect.stored;
        let offset =
            (u64::from(sy) * u64::from(columns) + u64::from(sx)) * u64::from(bytes_per_texel);
        // write_texture has no 256-byte row alignment requirement (unlike buffer copies).
        self.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            texels.bytes(),
            wgpu::TexelCopyBufferLayout {
                offset,
                bytes_per_row: Some(columns * bytes_per_texel),
                rows_per_image: Some(height),
            },
            size,
        );
        let s = scale.max(1) as f32;
        let [ox0, oy0, ox1, oy1] = rect.owned;
        let uniform = TileUniform {
            origin: [sx as i32, sy as i32],
            size: [width as i32, height as i32],
            rect: [
                ox0 as f32 * s,
                oy0 as f32 * s,
                ox1 as f32 * s,
                oy1 as f32 * s,
            ],
        };
        let buffer = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("tile"),
                contents: bytemuck::bytes_of(&uniform),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("frame"),
            layout: &self.variants[format.index()].texture_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: buffer.as_entire_binding(),
                },
            ],
        });
        Tile {
            bind_group,
            _texture: texture,
            _uniform: buffer,
            rect,
        }
    }

    /// Draws `image` (or black, when `None`) into `target` with the given view.
    pub fn draw(&self, target: &wgpu::TextureView, image: Option<&GpuImage>, view: &ViewState) {
        let mut uniform = view.uniform(self.target_format.is_srgb());
        if let Some(image) = image {
            uniform.texel_scale = image.reduction.max(1) as f32;
        }
        self.queue
            .write_buffer(&self.view_buffer, 0, bytemuck::bytes_of(&uniform));
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("draw"),
            });
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("image"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: target,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            if let Some(image) = image {
                pass.set_pipeline(&self.variants[image.format.index()].pipeline);
                pass.set_bind_group(0, &self.view_bind_group, &[]);
                let target_size = target.texture().size();
                let tiled = image.tiles.len() > 1;
                for tile in &image.tiles {
                    // Each tile's fragments are chosen in the shader (its image
                    // rectangle); the scissor only spares the others' work, so it is
                    // a pixel wider than the tile's footprint on every side.
                    if tiled {
                        let Some([x, y, w, h]) = scissor(view, image, tile, target_size) else {
                            continue;
                        };
                        pass.set_scissor_rect(x, y, w, h);
                    }
                    pass.set_bind_group(1, &tile.bind_group, &[]);
                    pass.draw(0..3, 0..1);
                }
            }
        }
        self.queue.submit([encoder.finish()]);
    }

    /// Draws into an offscreen `width`×`height` target of this renderer's format and
    /// reads it back as tightly packed RGBA/BGRA bytes (golden-image tests).
    pub fn draw_offscreen(
        &self,
        width: u32,
        height: u32,
        image: Option<&GpuImage>,
        view: &ViewState,
    ) -> Result<Vec<u8>, RenderError> {
        let texture = crate::readback::target(&self.device, self.target_format, width, height);
        let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
        self.draw(&target, image, view);
        crate::readback::read_rgba(&self.device, &self.queue, &texture)
    }
}

/// The target pixels a tile can cover under `view`, a pixel wider on every side, as a
/// scissor rectangle `[x, y, width, height]` within the target (`None`: off screen).
fn scissor(
    view: &ViewState,
    image: &GpuImage,
    tile: &Tile,
    target: wgpu::Extent3d,
) -> Option<[u32; 4]> {
    let s = image.reduction.max(1) as f32;
    let [x0, y0, x1, y1] = tile.rect.owned.map(|v| v as f32 * s);
    let corners = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]].map(|p| view.screen_from_image(p));
    if corners.iter().flatten().any(|v| !v.is_finite()) {
        // A degenerate view: let the shader decide every pixel.
        return Some([0, 0, target.width, target.height]);
    }
    let lo = |i: usize| corners.iter().map(|c| c[i]).fold(f32::INFINITY, f32::min);
    let hi = |i: usize| {
        corners
            .iter()
            .map(|c| c[i])
            .fold(f32::NEG_INFINITY, f32::max)
    };
    let clamp = |v: f32, max: u32| v.clamp(0.0, max as f32) as u32;
    let (left, top) = (
        clamp(lo(0).floor() - 1.0, target.width),
        clamp(lo(1).floor() - 1.0, target.height),
    );
    let (right, bottom) = (
        clamp(hi(0).ceil() + 1.0, target.width),
        clamp(hi(1).ceil() + 1.0, target.height),
    );
    (right > left && bottom > top).then(|| [left, top, right - left, bottom - top])
}
