// MPR: one plane (or slab) through a volume held as up to four 16-bit 3D textures
// ("bricks" stacked along k, each within the device's 3D texture limit). For every
// framebuffer pixel: its patient position on the plane -> voxel coordinate
// (voxel_from_patient, a general affine, so gantry-tilted volumes are exact) ->
// trilinear interpolation of stored values by eight textureLoads (16-bit integer
// textures are not filterable in WebGPU/WebGL2) -> rescale -> slab (MIP, MinIP or
// average of samples along the plane normal) -> VOI LINEAR window -> gray.
//
// VOXEL_TEXTURE is replaced by `texture_3d<i32>` or `texture_3d<u32>` on load.

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
@group(1) @binding(0) var brick0: VOXEL_TEXTURE;
@group(1) @binding(1) var brick1: VOXEL_TEXTURE;
@group(1) @binding(2) var brick2: VOXEL_TEXTURE;
@group(1) @binding(3) var brick3: VOXEL_TEXTURE;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
};

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

fn stored(i: i32, j: i32, k: i32) -> f32 {
    let depth = i32(mpr.brick_depth);
    let b = k / depth;
    let p = vec3<i32>(i, j, k - b * depth);
    if b == 0 {
        return f32(textureLoad(brick0, p, 0).x);
    } else if b == 1 {
        return f32(textureLoad(brick1, p, 0).x);
    } else if b == 2 {
        return f32(textureLoad(brick2, p, 0).x);
    }
    return f32(textureLoad(brick3, p, 0).x);
}

// Trilinear sample at a continuous voxel coordinate known to lie inside the grid.
fn trilinear(v: vec3<f32>) -> f32 {
    let hi = vec3<i32>(mpr.dims) - vec3<i32>(1, 1, 1);
    let base = clamp(vec3<i32>(floor(v)), vec3<i32>(0, 0, 0), max(hi - vec3<i32>(1, 1, 1), vec3<i32>(0, 0, 0)));
    let f = clamp(v - vec3<f32>(base), vec3<f32>(0.0), vec3<f32>(1.0));
    let n = min(base + vec3<i32>(1, 1, 1), hi);
    let c000 = stored(base.x, base.y, base.z);
    let c100 = stored(n.x, base.y, base.z);
    let c010 = stored(base.x, n.y, base.z);
    let c110 = stored(n.x, n.y, base.z);
    let c001 = stored(base.x, base.y, n.z);
    let c101 = stored(n.x, base.y, n.z);
    let c011 = stored(base.x, n.y, n.z);
    let c111 = stored(n.x, n.y, n.z);
    let z0 = mix(mix(c000, c100, f.x), mix(c010, c110, f.x), f.y);
    let z1 = mix(mix(c001, c101, f.x), mix(c011, c111, f.x), f.y);
    return mix(z0, z1, f.z);
}

fn inside(v: vec3<f32>) -> bool {
    let eps = 1e-3;
    return all(v >= vec3<f32>(-eps)) && all(v <= mpr.dims - vec3<f32>(1.0 - eps));
}

fn voi_linear(x: f32) -> f32 {
    let c = mpr.window.x;
    let w = max(mpr.window.y, 1.0);
    return clamp((x - (c - 0.5)) / max(w - 1.0, 1e-3) + 0.5, 0.0, 1.0);
}

fn linear_from_srgb(c: f32) -> f32 {
    if c <= 0.04045 {
        return c / 12.92;
    }
    return pow((c + 0.055) / 1.055, 2.4);
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
    var gray = voi_linear(acc);
    if mpr.invert > 0.5 {
        gray = 1.0 - gray;
    }
    if mpr.srgb_target > 0.5 {
        gray = linear_from_srgb(gray);
    }
    return vec4<f32>(gray, gray, gray, 1.0);
}
