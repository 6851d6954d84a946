//! What the 2D, MPR and volume renderers build alike: a render pipeline that draws
//! with `vs_main` and one fragment entry into one colour target with no blending, a
//! render pass into one target, the bind-group layout of a volume's bricks (shared, so
//! one `GpuVolume` bind group fits the MPR and the volume-rendering pipelines), and
//! the volume shaders' source with their shared prelude (`shader/volume.wgsl`).

use crate::volume::{MAX_BRICKS, VolumeFormat};

/// A pipeline over `groups` (bind group 0, 1, …) drawing `module`'s `vs_main` and
/// `fragment` into a `target` texture.
pub(crate) fn draw_pipeline(
    device: &wgpu::Device,
    label: &str,
    groups: &[&wgpu::BindGroupLayout],
    module: &wgpu::ShaderModule,
    fragment: &str,
    target: wgpu::TextureFormat,
) -> wgpu::RenderPipeline {
    let groups: Vec<Option<&wgpu::BindGroupLayout>> = groups.iter().map(|g| Some(*g)).collect();
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &groups,
        immediate_size: 0,
    });
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(label),
        layout: Some(&layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some(fragment),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format: target,
                blend: None,
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}

/// The layout of a volume's [`MAX_BRICKS`] 3D textures of `format`.
pub(crate) fn volume_layout(device: &wgpu::Device, format: VolumeFormat) -> wgpu::BindGroupLayout {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = (0..MAX_BRICKS)
        .map(|b| wgpu::BindGroupLayoutEntry {
            binding: b,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: format.sample_type(),
                view_dimension: wgpu::TextureViewDimension::D3,
                multisampled: false,
            },
            count: None,
        })
        .collect();
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("volume"),
        entries: &entries,
    })
}

/// The source of a volume shader: `shader/volume.wgsl` (bricks, sampling) for voxels
/// of `format` read from `bricks` bricks (1, or [`MAX_BRICKS`] for any), then `main`.
pub(crate) fn volume_shader(main: &str, format: VolumeFormat, bricks: u32) -> String {
    let prelude = include_str!("../shader/volume.wgsl")
        .replace("VOXEL_TEXTURE", format.wgsl_type())
        .replace("BRICK_COUNT", &bricks.clamp(1, MAX_BRICKS).to_string());
    prelude + main
}

/// A render pass into `target`, cleared or loaded as `load` says.
pub(crate) fn begin_pass<'e>(
    encoder: &'e mut wgpu::CommandEncoder,
    target: &wgpu::TextureView,
    label: &str,
    load: wgpu::LoadOp<wgpu::Color>,
) -> wgpu::RenderPass<'e> {
    encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
        label: Some(label),
        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
            view: target,
            depth_slice: None,
            resolve_target: None,
            ops: wgpu::Operations {
                load,
                store: wgpu::StoreOp::Store,
            },
        })],
        depth_stencil_attachment: None,
        timestamp_writes: None,
        occlusion_query_set: None,
        multiview_mask: None,
    })
}
