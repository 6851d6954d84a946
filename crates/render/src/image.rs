//! One frame on the GPU ([`GpuImage`]): its stored values in a single-channel
//! texture (grayscale) or its colours in an RGBA8 one, uploaded once, plus the bind
//! group the renderer draws it with.

/// How a frame's samples are stored in its texture (and which shader variant reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleFormat {
    /// `R16Sint`: signed data up to 16 bits (most CT).
    I16,
    /// `R16Uint`: unsigned data up to 16 bits.
    U16,
    /// `R32Float`: anything wider, and float pixel data.
    F32,
    /// `Rgba8Unorm`: colour, R, G, B and an unused 255 (no 3-byte format exists in
    /// WebGPU or WebGL2).
    Rgba8,
}

impl SampleFormat {
    pub const ALL: [SampleFormat; 4] = [
        SampleFormat::I16,
        SampleFormat::U16,
        SampleFormat::F32,
        SampleFormat::Rgba8,
    ];

    pub(crate) fn texture_format(self) -> wgpu::TextureFormat {
        match self {
            SampleFormat::I16 => wgpu::TextureFormat::R16Sint,
            SampleFormat::U16 => wgpu::TextureFormat::R16Uint,
            SampleFormat::F32 => wgpu::TextureFormat::R32Float,
            SampleFormat::Rgba8 => wgpu::TextureFormat::Rgba8Unorm,
        }
    }

    pub(crate) fn sample_type(self) -> wgpu::TextureSampleType {
        match self {
            SampleFormat::I16 => wgpu::TextureSampleType::Sint,
            SampleFormat::U16 => wgpu::TextureSampleType::Uint,
            SampleFormat::F32 | SampleFormat::Rgba8 => {
                wgpu::TextureSampleType::Float { filterable: false }
            }
        }
    }

    /// Bytes per texel.
    pub fn bytes_per_texel(self) -> u32 {
        match self {
            SampleFormat::I16 | SampleFormat::U16 => 2,
            SampleFormat::F32 | SampleFormat::Rgba8 => 4,
        }
    }

    /// True for colour frames.
    pub fn is_colour(self) -> bool {
        self == SampleFormat::Rgba8
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A frame's samples, row by row: one per pixel (grayscale), or four bytes per pixel
/// (colour: R, G, B, and a fourth byte that is ignored).
#[derive(Debug, Clone, Copy)]
pub enum FrameTexels<'a> {
    I16(&'a [i16]),
    U16(&'a [u16]),
    F32(&'a [f32]),
    Rgba8(&'a [u8]),
}

impl FrameTexels<'_> {
    pub fn format(&self) -> SampleFormat {
        match self {
            FrameTexels::I16(_) => SampleFormat::I16,
            FrameTexels::U16(_) => SampleFormat::U16,
            FrameTexels::F32(_) => SampleFormat::F32,
            FrameTexels::Rgba8(_) => SampleFormat::Rgba8,
        }
    }

    /// Pixels (a colour frame's partial last pixel does not count).
    pub(crate) fn len(&self) -> usize {
        match self {
            FrameTexels::I16(v) => v.len(),
            FrameTexels::U16(v) => v.len(),
            FrameTexels::F32(v) => v.len(),
            FrameTexels::Rgba8(v) => v.len() / 4,
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            FrameTexels::I16(v) => bytemuck::cast_slice(v),
            FrameTexels::U16(v) => bytemuck::cast_slice(v),
            FrameTexels::F32(v) => bytemuck::cast_slice(v),
            FrameTexels::Rgba8(v) => v,
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
        let per = u64::from(self.format.bytes_per_texel());
        u64::from(self.columns.div_ceil(self.reduction.max(1)))
            * u64::from(self.rows.div_ceil(self.reduction.max(1)))
            * per
    }
}

/// [`reduce`] for RGBA bytes: each channel averaged on its own.
pub(crate) fn reduce_rgba(rgba: &[u8], columns: u32, rows: u32, k: u32) -> Vec<u8> {
    let planes: Vec<Vec<u8>> = (0..4)
        .map(|c| {
            let plane: Vec<u8> = rgba.iter().skip(c).step_by(4).copied().collect();
            reduce(&plane, columns, rows, k, |x| x.round() as u8)
        })
        .collect();
    (0..planes[0].len())
        .flat_map(|i| [planes[0][i], planes[1][i], planes[2][i], planes[3][i]])
        .collect()
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
