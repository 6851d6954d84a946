// MPR: one plane (or slab) through a volume held as up to four 16-bit 3D textures
// ("bricks" stacked along k, each within the device's 3D texture limit). For every
// framebuffer pixel: its patient position on the plane -> voxel coordinate
// (voxel_from_patient, a general affine, so gantry-tilted volumes are exact) ->
// trilinear interpolation of stored values by eight textureLoads (16-bit integer
// textures are not filterable in WebGPU/WebGL2) -> rescale -> slab (MIP, MinIP or
// average of samples along the plane normal) -> VOI LINEAR window -> gray.
//
// The bricks, `stored()` and `trilinear()` come from `volume.wgsl`, prepended on load.

struct Mpr {
    voxel_from_patient: mat4x4<f32>,
    center: vec3<f32>,
    mm_per_px: f32,
    right: vec3<f32>,
    slab_step_mm: f32,
    down: vec3<f32>,
    slab_half: f32,        // samples on each side of the plane
    viewport: vec2<f32>,
    mode: f32,             // 0 average, 1 MIP, 2 MinIP
    invert: f32,
    window: vec2<f32>,     // center, width (modality units)
    rescale: vec2<f32>,    // slope, intercept
    dims: vec3<f32>,       // texture voxels along i, j, k (all bricks)
    brick_depth: f32,
    srgb_target: f32,
    _pad: f32,
    origin: vec2<f32>,     // top-left framebuffer pixel of the pane drawn into
    target_size: vec2<f32>, // size of the whole target (framebuffer pixels)
    _pad2: vec2<f32>,
};

@group(0) @binding(0) var<uniform> mpr: Mpr;
// Two triangles covering the pane (origin, viewport) of the target: a pane is
// placed by its geometry, not by a viewport or scissor rectangle, so several panes
// are drawn in one render pass (MprRenderer::draw_panes, one uniform slot each).
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    let corner = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    )[index];
    let px = mpr.origin + corner * mpr.viewport;
    let size = max(mpr.target_size, vec2<f32>(1.0, 1.0));
    var out: VertexOut;
    out.position = vec4<f32>(px.x / size.x * 2.0 - 1.0, 1.0 - px.y / size.y * 2.0, 0.0, 1.0);
    return out;
}

fn volume_dims() -> vec3<f32> {
    return mpr.dims;
}

fn volume_brick_depth() -> f32 {
    return mpr.brick_depth;
}

fn inside(v: vec3<f32>) -> bool {
    let eps = 1e-3;
    return all(v >= vec3<f32>(-eps)) && all(v <= mpr.dims - vec3<f32>(1.0 - eps));
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let uv = (in.position.xy - mpr.origin - mpr.viewport * 0.5) * mpr.mm_per_px;
    let p = mpr.center + mpr.right * uv.x + mpr.down * uv.y;
    let normal = cross(mpr.right, mpr.down);
    let half = i32(mpr.slab_half);
    var count = 0.0;
    var acc = 0.0;
    for (var s = -half; s <= half; s = s + 1) {
        let q = p + normal * (f32(s) * mpr.slab_step_mm);
        let v = (mpr.voxel_from_patient * vec4<f32>(q, 1.0)).xyz;
        if inside(v) {
            let value = trilinear(v) * mpr.rescale.x + mpr.rescale.y;
            if count == 0.0 {
                acc = value;
            } else if mpr.mode > 1.5 {
                acc = min(acc, value);
            } else if mpr.mode > 0.5 {
                acc = max(acc, value);
            } else {
                acc = acc + value;
            }
            count = count + 1.0;
        }
    }
    if count == 0.0 {
        return vec4<f32>(0.0, 0.0, 0.0, 1.0);
    }
    if mpr.mode < 0.5 {
        acc = acc / count;
    }
    var gray = voi_linear(acc, mpr.window);
    if mpr.invert > 0.5 {
        gray = 1.0 - gray;
    }
    if mpr.srgb_target > 0.5 {
        gray = linear_from_srgb(gray);
    }
    return vec4<f32>(gray, gray, gray, 1.0);
}
