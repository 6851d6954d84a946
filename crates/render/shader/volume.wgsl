// What the MPR and volume-rendering shaders share (prepended to both by
// `pipeline::volume_shader`): the volume's bricks, the full-screen vertex output, and
// sampling. A volume is held as up to four 16-bit 3D textures ("bricks" stacked along
// k, each within the device's 3D texture limit); integer textures are not filterable
// in WebGPU/WebGL2, so trilinear interpolation is done here by eight textureLoads.
//
// VOXEL_TEXTURE is replaced by `texture_3d<i32>` or `texture_3d<u32>` on load; BRICKS
// by how many bricks the pipeline reads (1: only brick0, no per-texel brick choice;
// 4: any). Each shader defines `volume_dims()` (texture voxels along i, j, k, all
// bricks) and `volume_brick_depth()` (slices per brick) from its own uniform.

const BRICKS: i32 = BRICK_COUNT;

@group(1) @binding(0) var brick0: VOXEL_TEXTURE;
@group(1) @binding(1) var brick1: VOXEL_TEXTURE;
@group(1) @binding(2) var brick2: VOXEL_TEXTURE;
@group(1) @binding(3) var brick3: VOXEL_TEXTURE;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
};

// The stored value of texel (i, j, k) of the whole volume.
fn stored(i: i32, j: i32, k: i32) -> f32 {
    if BRICKS == 1 {
        return f32(textureLoad(brick0, vec3<i32>(i, j, k), 0).x);
    }
    let depth = i32(volume_brick_depth());
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
    let hi = vec3<i32>(volume_dims()) - vec3<i32>(1, 1, 1);
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

// VOI LINEAR (PS3.3 C.11.2.1.2.1) of `x` through `window` (centre, width) to 0..=1.
fn voi_linear(x: f32, window: vec2<f32>) -> f32 {
    let c = window.x;
    let w = max(window.y, 1.0);
    return clamp((x - (c - 0.5)) / max(w - 1.0, 1e-3) + 0.5, 0.0, 1.0);
}

// What to write into an sRGB target so that it encodes back to `c`.
fn linear_from_srgb(c: f32) -> f32 {
    if c <= 0.04045 {
        return c / 12.92;
    }
    return pow((c + 0.055) / 1.055, 2.4);
}
