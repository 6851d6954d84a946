// Draws one frame: stored value -> modality value (rescale) -> VOI LINEAR
// window (PS3.3 C.11.2.1.2.1) -> optional inversion (MONOCHROME1) -> gray.
// The frame texture holds the stored values as uploaded once; every window/level,
// zoom or pan change only rewrites the `View` uniform.
//
// `stored_at` (and the `frame` binding) come from one of texel_*.wgsl, prepended
// per texture sample type (i16, u16, f32, rgba8). It returns three channels: the
// same value thrice for grayscale, R, G, B (0..255) for colour, which then goes
// through the same steps per channel (the viewer draws colour with rescale 1, 0
// and window 128/256, the identity, unless the user drags window/level: linear
// contrast and brightness, as Cornerstone does).

struct View {
    // image pixel position = image_from_screen * framebuffer position + offset
    image_from_screen: vec4<f32>,   // column-major 2x2: (m00, m10, m01, m11)
    offset: vec2<f32>,
    image_size: vec2<f32>,          // columns, rows
    rescale: vec2<f32>,             // slope, intercept
    window: vec2<f32>,              // center, width (modality units)
    invert: f32,                    // 1: MONOCHROME1 or user inversion
    srgb_target: f32,               // 1: the target encodes sRGB, write linear values
    texel_scale: f32,               // image pixels per texel (>1: a reduced large frame)
    _pad: f32,
};

@group(0) @binding(0) var<uniform> view: View;

// The texture bound with it (`frame`, binding 0) holds the frame's texels
// origin .. origin + size, and this draw shows the image positions in rect
// (x0, y0, x1, y1), half-open. A frame within the texture limit is one tile: origin
// 0, the whole frame, a rect covering the image. A larger one is drawn tile by tile
// with the same View: every fragment computes the same image position and reads the
// same frame texels (each tile holds a one-texel apron around its rect for the
// bilinear neighbours), and exactly one tile's rect contains it, so the result is
// the one big texture's, byte for byte.
struct Tile {
    origin: vec2<i32>,
    size: vec2<i32>,
    rect: vec4<f32>,
};

@group(1) @binding(1) var<uniform> tile: Tile;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
};

// One triangle that covers the whole target.
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    let x = f32(i32(index & 1u) * 4 - 1);
    let y = f32(i32(index >> 1u) * 4 - 1);
    var out: VertexOut;
    out.position = vec4<f32>(x, y, 0.0, 1.0);
    return out;
}

fn texture_size() -> vec2<f32> {
    return ceil(view.image_size / max(view.texel_scale, 1.0));
}

fn modality_at(p: vec2<i32>) -> vec3<f32> {
    let size = vec2<i32>(texture_size());
    let q = clamp(p, vec2<i32>(0, 0), size - vec2<i32>(1, 1));
    // Frame texel -> this tile's texel (within it for every fragment the tile
    // draws; the clamp only keeps a read in bounds whatever happens).
    let local = clamp(q - tile.origin, vec2<i32>(0, 0), tile.size - vec2<i32>(1, 1));
    return stored_at(local) * view.rescale.x + view.rescale.y;
}

fn voi_linear(x: vec3<f32>) -> vec3<f32> {
    let c = view.window.x;
    let w = max(view.window.y, 1.0);
    return clamp((x - (c - 0.5)) / max(w - 1.0, 1e-3) + 0.5, vec3<f32>(0.0), vec3<f32>(1.0));
}

fn linear_from_srgb(c: vec3<f32>) -> vec3<f32> {
    return select(pow((c + 0.055) / 1.055, vec3<f32>(2.4)), c / 12.92, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let m = view.image_from_screen;
    let s = in.position.xy;
    let image = vec2<f32>(m.x * s.x + m.z * s.y, m.y * s.x + m.w * s.y) + view.offset;
    if image.x < 0.0 || image.y < 0.0 || image.x >= view.image_size.x || image.y >= view.image_size.y {
        return vec4<f32>(0.0, 0.0, 0.0, 1.0);
    }
    if image.x < tile.rect.x || image.y < tile.rect.y || image.x >= tile.rect.z || image.y >= tile.rect.w {
        discard; // another tile's
    }
    // Bilinear interpolation of modality values between texel centres.
    let t = image / max(view.texel_scale, 1.0) - vec2<f32>(0.5, 0.5);
    let base = floor(t);
    let f = t - base;
    let p = vec2<i32>(base);
    let v00 = modality_at(p);
    let v10 = modality_at(p + vec2<i32>(1, 0));
    let v01 = modality_at(p + vec2<i32>(0, 1));
    let v11 = modality_at(p + vec2<i32>(1, 1));
    let v = mix(mix(v00, v10, f.x), mix(v01, v11, f.x), f.y);
    var shown = voi_linear(v);
    if view.invert > 0.5 {
        shown = 1.0 - shown;
    }
    if view.srgb_target > 0.5 {
        shown = linear_from_srgb(shown);
    }
    return vec4<f32>(shown, 1.0);
}
