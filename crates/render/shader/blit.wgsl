// Copies a kept MPR pane (MprPaneCache) into its place in the target, texel for
// texel: one textureLoad per pixel, so a frame where only one of three panes changed
// costs one MPR pane plus this, not three MPR panes. A preview pane (drawn at
// 1/divisor of the resolution per side while the user drags) is stretched
// bilinearly instead: four textureLoads per pixel.

struct Blit {
    origin: vec2<f32>, // top-left target pixel of the pane
    divisor: f32,      // target pixels per pane texel along each side (1: full quality)
    _pad: f32,
};

@group(0) @binding(0) var<uniform> blit: Blit;
@group(0) @binding(1) var pane: texture_2d<f32>;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
};

// One triangle over the whole target; the pane's scissor rectangle (set by
// MprPaneCache) keeps it to the pane.
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    let corner = array<vec2<f32>, 3>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(3.0, -1.0), vec2<f32>(-1.0, 3.0),
    )[index];
    var out: VertexOut;
    out.position = vec4<f32>(corner, 0.0, 1.0);
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let xy = in.position.xy - blit.origin;
    if blit.divisor <= 1.0 {
        return textureLoad(pane, vec2<i32>(floor(xy)), 0);
    }
    // The texel centres of the preview lie at (i + 0.5)·divisor target pixels.
    let src = xy / blit.divisor - vec2<f32>(0.5);
    let last = vec2<i32>(textureDimensions(pane)) - vec2<i32>(1);
    let base = floor(src);
    let f = src - base;
    let a = clamp(vec2<i32>(base), vec2<i32>(0), last);
    let b = clamp(vec2<i32>(base) + vec2<i32>(1), vec2<i32>(0), last);
    let top = mix(textureLoad(pane, a, 0), textureLoad(pane, vec2<i32>(b.x, a.y), 0), f.x);
    let bottom = mix(textureLoad(pane, vec2<i32>(a.x, b.y), 0), textureLoad(pane, b, 0), f.x);
    return mix(top, bottom, f.y);
}
