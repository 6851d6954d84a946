// Copies a kept MPR pane (MprPaneCache) into its place in the target, texel for
// texel: one textureLoad per pixel, so a frame where only one of three panes changed
// costs one MPR pane plus this, not three MPR panes.

struct Blit {
    origin: vec2<f32>, // top-left target pixel of the pane
    _pad: vec2<f32>,
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
    let p = vec2<i32>(floor(in.position.xy - blit.origin));
    return textureLoad(pane, p, 0);
}
