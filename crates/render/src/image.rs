//! One frame on the GPU ([`GpuImage`]): its stored values in a single-channel
//! texture, uploaded once, plus the bind group the renderer draws it with.

/// How a frame's samples are stored in its texture (and which shader variant reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleFormat {
    /// `R16Sint`: signed data up to 16 bits (most CT).
    I16,
    /// `R16Uint`: unsigned data up to 16 bits.
    U16,
    /// `R32Float`: anything wider, and float pixel data.
    F32,
}

impl SampleFormat {
    pub const ALL: [SampleFormat; 3] = [SampleFormat::I16, SampleFormat::U16, SampleFormat::F32];

    pub(crate) fn texture_format(self) -> wgpu::TextureFormat {
        match self {
            SampleFormat::I16 => wgpu::TextureFormat::R16Sint,
            SampleFormat::U16 => wgpu::TextureFormat::R16Uint,
            SampleFormat::F32 => wgpu::TextureFormat::R32Float,
        }
    }

    pub(crate) fn sample_type(self) -> wgpu::TextureSampleType {
        match self {
            SampleFormat::I16 => wgpu::TextureSampleType::Sint,
            SampleFormat::U16 => wgpu::TextureSampleType::Uint,
            SampleFormat::F32 => wgpu::TextureSampleType::Float { filterable: false },
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A frame's samples, row by row, one per pixel (grayscale).
#[derive(Debug, Clone, Copy)]
pub enum FrameTexels<'a> {
    I16(&'a [i16]),
    U16(&'a [u16]),
    F32(&'a [f32]),
}

impl FrameTexels<'_> {
    pub fn format(&self) -> SampleFormat {
        match self {
            FrameTexels::I16(_) => SampleFormat::I16,
            FrameTexels::U16(_) => SampleFormat::U16,
            FrameTexels::F32(_) => SampleFormat::F32,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            FrameTexels::I16(v) => v.len(),
            FrameTexels::U16(v) => v.len(),
            FrameTexels::F32(v) => v.len(),
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            FrameTexels::I16(v) => bytemuck::cast_slice(v),
            FrameTexels::U16(v) => bytemuck::cast_slice(v),
            FrameTexels::F32(v) => bytemuck::cast_slice(v),
        }
    }
}

/// A frame uploaded to the GPU. Dropping it frees the texture.
pub struct GpuImage {
    pub(crate) format: SampleFormat,
    pub(crate) bind_group: wgpu::BindGroup,
    pub(crate) _texture: wgpu::Texture,
    pub columns: u32,
    pub rows: u32,
}

impl GpuImage {
    pub fn format(&self) -> SampleFormat {
        self.format
    }

    /// GPU memory held, in bytes.
    pub fn bytes(&self) -> u64 {
        let per = if self.format == SampleFormat::F32 {
            4
        } else {
            2
        };
        u64::from(self.columns) * u64::from(self.rows) * per
    }
}
