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
    /// 1, or the factor (image pixels per texel side) a frame larger than the
    /// device's texture limit was reduced by: it is then shown whole, with less detail.
    pub reduction: u32,
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
        u64::from(self.columns.div_ceil(self.reduction.max(1)))
            * u64::from(self.rows.div_ceil(self.reduction.max(1)))
            * per
    }
}

/// Reduces a `columns`×`rows` frame by `k` in each direction: each texel is the mean
/// of the (up to) k×k pixels it covers. The result is ⌈columns/k⌉×⌈rows/k⌉.
pub(crate) fn reduce<T: Copy + Into<f64>>(
    samples: &[T],
    columns: u32,
    rows: u32,
    k: u32,
    from_f64: impl Fn(f64) -> T,
) -> Vec<T> {
    let (c, r, k) = (columns as usize, rows as usize, k.max(1) as usize);
    let (tc, tr) = (c.div_ceil(k), r.div_ceil(k));
    let mut out = Vec::with_capacity(tc * tr);
    for ty in 0..tr {
        for tx in 0..tc {
            let (mut sum, mut n) = (0.0f64, 0u32);
            for y in ty * k..((ty + 1) * k).min(r) {
                let row = &samples[y * c..y * c + c];
                for &v in &row[tx * k..((tx + 1) * k).min(c)] {
                    sum += v.into();
                    n += 1;
                }
            }
            out.push(from_f64(sum / f64::from(n.max(1))));
        }
    }
    out
}
