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

/// One texture of a frame: a rectangle of texels, and the part of the image it draws.
///
/// A frame within the device's texture limit is one tile holding every texel. A larger
/// one is a grid of tiles ([`tile_grid`]): each tile *owns* a rectangle of texels
/// (the owned rectangles partition the frame) and draws exactly the fragments whose
/// image position falls in it; its texture also holds a one-texel apron around that
/// rectangle (where the frame has one), so the bilinear reads of every fragment it
/// draws find the very texels one big texture would give. Tiled or not, each fragment
/// shows the same value, byte for byte.
pub(crate) struct Tile {
    pub(crate) bind_group: wgpu::BindGroup,
    pub(crate) _texture: wgpu::Texture,
    pub(crate) _uniform: wgpu::Buffer,
    pub(crate) rect: TileRect,
}

/// Where a tile lies, in texels of the (possibly reduced) frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRect {
    /// The texels it owns (draws): `[x0, y0, x1, y1)`.
    pub owned: [u32; 4],
    /// The texels its texture holds: the owned ones plus a one-texel apron inside
    /// the frame, `[x0, y0, x1, y1)`.
    pub stored: [u32; 4],
}

impl TileRect {
    pub fn stored_size(&self) -> (u32, u32) {
        (
            self.stored[2] - self.stored[0],
            self.stored[3] - self.stored[1],
        )
    }
}

/// Splits `len` texels into runs no longer than `limit` once each gets its apron:
/// `(owned start, owned end, stored start, stored end)` for each run.
fn runs(len: u32, limit: u32) -> Vec<(u32, u32, u32, u32)> {
    if len <= limit {
        return vec![(0, len, 0, len)];
    }
    // Each run stores at most its owned texels and one on either side.
    let inner = limit.saturating_sub(2).max(1);
    let n = len.div_ceil(inner);
    let stride = len.div_ceil(n);
    (0..n)
        .map(|i| {
            let a = (i * stride).min(len);
            let b = ((i + 1) * stride).min(len);
            (a, b, a.saturating_sub(1), (b + 1).min(len))
        })
        .filter(|r| r.0 < r.1)
        .collect()
}

/// The tiles a `columns`×`rows` frame is uploaded as when textures may be at most
/// `limit` texels on a side (`limit` ≥ 3): one tile when the frame fits, else a grid,
/// row by row. The owned rectangles partition the frame; every stored rectangle fits
/// the limit and holds its owned rectangle grown by one texel within the frame.
pub fn tile_grid(columns: u32, rows: u32, limit: u32) -> Vec<TileRect> {
    let limit = limit.max(3);
    let xs = runs(columns, limit);
    let ys = runs(rows, limit);
    ys.iter()
        .flat_map(|&(y0, y1, sy0, sy1)| {
            xs.iter().map(move |&(x0, x1, sx0, sx1)| TileRect {
                owned: [x0, y0, x1, y1],
                stored: [sx0, sy0, sx1, sy1],
            })
        })
        .collect()
}

/// `struct Tile` of `shader/image.wgsl` (32 bytes): where a tile's texture lies in the
/// frame's texels, and the image-space rectangle it draws.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct TileUniform {
    /// Frame texel of the texture's texel (0, 0).
    pub origin: [i32; 2],
    /// The texture's size in texels.
    pub size: [i32; 2],
    /// Image positions drawn: `[x0, y0, x1, y1)`, image pixels.
    pub rect: [f32; 4],
}

/// A frame uploaded to the GPU: one texture, or a grid of tiles for a frame larger
/// than the device's texture limit. Dropping it frees the textures.
pub struct GpuImage {
    pub(crate) format: SampleFormat,
    pub(crate) tiles: Vec<Tile>,
    pub columns: u32,
    pub rows: u32,
    /// 1, or the factor (image pixels per texel side) a frame larger than the
    /// renderer's per-frame memory budget was reduced by: it is then shown whole,
    /// with less detail. A frame over the texture limit alone is tiled, not reduced.
    pub reduction: u32,
}

impl GpuImage {
    pub fn format(&self) -> SampleFormat {
        self.format
    }

    /// GPU memory held by the textures, in bytes (tiles' aprons included).
    pub fn bytes(&self) -> u64 {
        let per = u64::from(self.format.bytes_per_texel());
        self.tiles
            .iter()
            .map(|t| {
                let (w, h) = t.rect.stored_size();
                u64::from(w) * u64::from(h) * per
            })
            .sum()
    }

    /// Textures the frame is held in: 1, or the tiles of a frame over the texture limit.
    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    /// Where each tile lies, in texels of the (possibly reduced) frame.
    pub fn tile_rects(&self) -> Vec<TileRect> {
        self.tiles.iter().map(|t| t.rect).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The owned rectangles partition the frame; stored ones fit the limit and hold
    /// the owned ones grown by one texel within the frame.
    fn check(columns: u32, rows: u32, limit: u32) -> Vec<TileRect> {
        let tiles = tile_grid(columns, rows, limit);
        let mut owner = vec![0u32; (columns * rows) as usize];
        for t in &tiles {
            let [x0, y0, x1, y1] = t.owned;
            let [sx0, sy0, sx1, sy1] = t.stored;
            let (w, h) = t.stored_size();
            assert!(w <= limit.max(3) && h <= limit.max(3), "{t:?}");
            assert_eq!([sx0, sy0], [x0.saturating_sub(1), y0.saturating_sub(1)]);
            assert_eq!([sx1, sy1], [(x1 + 1).min(columns), (y1 + 1).min(rows)]);
            for y in y0..y1 {
                for x in x0..x1 {
                    owner[(y * columns + x) as usize] += 1;
                }
            }
        }
        assert!(owner.iter().all(|&n| n == 1), "{columns}x{rows} / {limit}");
        tiles
    }

    #[test]
    fn a_frame_within_the_limit_is_one_tile() {
        let t = check(4096, 4096, 4096);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].stored, [0, 0, 4096, 4096]);
    }

    #[test]
    fn larger_frames_are_split_into_tiles_that_fit_with_their_apron() {
        assert_eq!(check(4097, 100, 4096).len(), 2);
        assert_eq!(check(4096, 5120, 4096).len(), 2);
        assert_eq!(check(3000, 2000, 1024).len(), 3 * 2);
        assert_eq!(check(1024, 1025, 1024).len(), 2);
        for (c, r, l) in [(17, 5, 3), (100, 37, 7), (3001, 2, 1000), (5, 5, 1)] {
            check(c, r, l);
        }
    }
}
