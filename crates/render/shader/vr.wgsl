// Volume rendering by ray casting, over the same 16-bit 3D texture bricks as MPR.
// The rules are those of rangsi_volume::vr (the CPU reference this shader is tested
// against): orthographic rays from a plane through the camera's target, samples at
// t = k * step_mm inside the clip box (voxel space), trilinear stored values ->
// rescale -> MIP (windowed) or front-to-back compositing through the transfer
// function LUT with opacity correction, optional headlight shading from central
// differences, early ray termination at `early_alpha`.
//
// Empty-space skipping: `blocks` holds the min/max stored value of every 16^3 block
// of texture voxels (with a one-voxel margin, so every trilinear sample inside a block,
// and the central differences around it, are within its range), laid out as tiles of
// k-layers in a 2D texture (no storage buffers: WebGL2 has none in fragment shaders).
// A ray walks block by block: a block whose range is transparent under the LUT (VR),
// or cannot raise the running maximum above the window's floor (MIP), is stepped over
// in one go; in the others every sample is taken (MIP leaves a block once its maximum
// is reached). The rules are exact: the skipped samples would not change the pixel.
//
// Written for software rasterizers too (lavapipe, SwiftShader), which run a group of
// pixels in SIMD lanes and execute both sides of a branch: the mode is a constant of
// the pipeline (RENDER_MODE: 0 MIP, 1 composite, 2 shaded composite) so no mode pays
// for another's code, empty blocks are walked in a loop of their own that takes no
// samples, and the gradient reuses the sample's eight texels (32 loads, not 56).
//
// `px_scale` > 1 draws a preview at reduced resolution, which `fs_upscale` stretches
// over the target: the pixel at framebuffer position p casts the ray of full-size
// position p * px_scale.
//
// The bricks, `stored()` and `trilinear()` come from `volume.wgsl` (shared with MPR),
// prepended on load.

const MODE: i32 = RENDER_MODE;

struct Vr {
    voxel_from_patient: mat4x4<f32>,   // texture voxels from patient mm
    origin: vec3<f32>,                 // ray origin of the viewport's centre
    mm_per_px: f32,
    right: vec3<f32>,
    step_mm: f32,
    down: vec3<f32>,
    mode: f32,                         // 0 MIP, 1 composite, 2 shaded (MODE decides)
    clip_min: vec3<f32>,               // texture voxels, within the grid
    max_samples: f32,
    clip_max: vec3<f32>,
    brick_depth: f32,
    dims: vec3<f32>,                   // texture voxels along i, j, k (all bricks)
    srgb_target: f32,
    blocks: vec3<f32>,                 // blocks along i, j, k
    skip: f32,                         // 1: empty-space skipping on
    viewport: vec2<f32>,
    rescale: vec2<f32>,                // slope, intercept
    window: vec2<f32>,                 // MIP: centre, width (modality units)
    lut: vec2<f32>,                    // first value, entries per modality unit
    atlas_cols: f32,                   // k-layer tiles per row of `blocks`
    block_size: f32,
    early_alpha: f32,
    px_scale: f32,                     // full-size pixels per framebuffer pixel
};

const LUT_LAST: f32 = 1023.0;
const LUT_GROUP: f32 = 4.0;
const LUT_GROUPS: i32 = 256;
const AMBIENT: f32 = 0.25;
const DIFFUSE: f32 = 0.75;
const SPECULAR: f32 = 0.3;
const SHININESS: f32 = 24.0;
const MIN_GRADIENT: f32 = 1e-3;

@group(0) @binding(0) var<uniform> vr: Vr;
// Row 0: 1024 RGBA entries (opacity per mm in a); row 1: x = occupancy prefix count
// of the 256 groups of 4 entries (rangsi_volume::vr::Lut::occupancy_prefix).
@group(0) @binding(1) var lut: texture_2d<f32>;
@group(0) @binding(2) var blocks: texture_2d<i32>;
// The preview to upscale (fs_upscale), and its bilinear sampler.
@group(2) @binding(0) var preview: texture_2d<f32>;
@group(2) @binding(1) var preview_sampler: sampler;
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    let x = f32(i32(index & 1u) * 4 - 1);
    let y = f32(i32(index >> 1u) * 4 - 1);
    var out: VertexOut;
    out.position = vec4<f32>(x, y, 0.0, 1.0);
    return out;
}

fn volume_dims() -> vec3<f32> {
    return vr.dims;
}

fn volume_brick_depth() -> f32 {
    return vr.brick_depth;
}

fn lut_position(x: f32) -> f32 {
    return clamp((x - vr.lut.x) * vr.lut.y, 0.0, LUT_LAST);
}

fn lut_lookup(x: f32) -> vec4<f32> {
    let p = lut_position(x);
    let i = floor(p);
    let a = textureLoad(lut, vec2<i32>(i32(i), 0), 0);
    let b = textureLoad(lut, vec2<i32>(min(i32(i) + 1, i32(LUT_LAST)), 0), 0);
    return mix(a, b, p - i);
}

fn lut_group(x: f32) -> i32 {
    return min(i32(floor(lut_position(x) / LUT_GROUP)), LUT_GROUPS - 1);
}

// Whether every value in lo..=hi is transparent (same rule as Lut::range_is_empty).
fn range_is_empty(lo: f32, hi: f32) -> bool {
    let g0 = lut_group(min(lo, hi));
    let g1 = lut_group(max(lo, hi));
    var before = 0.0;
    if g0 > 0 {
        before = textureLoad(lut, vec2<i32>(g0 - 1, 1), 0).x;
    }
    return textureLoad(lut, vec2<i32>(g1, 1), 0).x - before < 0.5;
}

fn sample_opacity(per_mm: f32, step: f32) -> f32 {
    return 1.0 - exp(step * log(max(1.0 - per_mm, 1e-6)));
}

fn value_at(v: vec3<f32>) -> f32 {
    return trilinear(v) * vr.rescale.x + vr.rescale.y;
}

// The eight texels around a voxel coordinate known to lie inside the grid (as
// `trilinear()` picks them): c0 = (000, 100, 010, 110), c1 = the same at base.z + 1.
struct Cell {
    base: vec3<i32>,
    next: vec3<i32>,
    f: vec3<f32>,
    c0: vec4<f32>,
    c1: vec4<f32>,
};

fn cell_at(v: vec3<f32>) -> Cell {
    let hi = vec3<i32>(vr.dims) - vec3<i32>(1, 1, 1);
    let base = clamp(vec3<i32>(floor(v)), vec3<i32>(0, 0, 0), max(hi - vec3<i32>(1, 1, 1), vec3<i32>(0, 0, 0)));
    let n = min(base + vec3<i32>(1, 1, 1), hi);
    var cell: Cell;
    cell.base = base;
    cell.next = n;
    cell.f = clamp(v - vec3<f32>(base), vec3<f32>(0.0), vec3<f32>(1.0));
    cell.c0 = vec4<f32>(stored(base.x, base.y, base.z), stored(n.x, base.y, base.z), stored(base.x, n.y, base.z), stored(n.x, n.y, base.z));
    cell.c1 = vec4<f32>(stored(base.x, base.y, n.z), stored(n.x, base.y, n.z), stored(base.x, n.y, n.z), stored(n.x, n.y, n.z));
    return cell;
}

// Bilinear in the plane of four values (00, 10, 01, 11).
fn bilerp(q: vec4<f32>, f: vec2<f32>) -> f32 {
    return mix(mix(q.x, q.y, f.x), mix(q.z, q.w, f.x), f.y);
}

// The cell's trilinear value (as `trilinear()`).
fn cell_value(cell: Cell) -> f32 {
    return mix(bilerp(cell.c0, cell.f.xy), bilerp(cell.c1, cell.f.xy), cell.f.z);
}

// The gradient of stored values by central differences one voxel apart: the trilinear
// samples at v ± e_i, each made of four of the cell's texels and four beyond it
// (24 more loads; indices clamped to the grid, as the coordinates of `trilinear()`).
fn cell_gradient(cell: Cell) -> vec3<f32> {
    let b = cell.base;
    let n = cell.next;
    let f = cell.f;
    let hi = vec3<i32>(vr.dims) - vec3<i32>(1, 1, 1);
    let lo = max(b - vec3<i32>(1, 1, 1), vec3<i32>(0, 0, 0));
    let up = min(b + vec3<i32>(2, 2, 2), hi);
    // Along x: the texels at x = lo.x and up.x, (y, z) as the cell's.
    let xm = vec4<f32>(stored(lo.x, b.y, b.z), stored(lo.x, n.y, b.z), stored(lo.x, b.y, n.z), stored(lo.x, n.y, n.z));
    let xp = vec4<f32>(stored(up.x, b.y, b.z), stored(up.x, n.y, b.z), stored(up.x, b.y, n.z), stored(up.x, n.y, n.z));
    let x0 = vec4<f32>(cell.c0.x, cell.c0.z, cell.c1.x, cell.c1.z);
    let x1 = vec4<f32>(cell.c0.y, cell.c0.w, cell.c1.y, cell.c1.w);
    let gx = bilerp(mix(x1, xp, f.x), f.yz) - bilerp(mix(xm, x0, f.x), f.yz);
    // Along y: rows y = lo.y and up.y, (x, z) as the cell's.
    let ym = vec4<f32>(stored(b.x, lo.y, b.z), stored(n.x, lo.y, b.z), stored(b.x, lo.y, n.z), stored(n.x, lo.y, n.z));
    let yp = vec4<f32>(stored(b.x, up.y, b.z), stored(n.x, up.y, b.z), stored(b.x, up.y, n.z), stored(n.x, up.y, n.z));
    let y0 = vec4<f32>(cell.c0.x, cell.c0.y, cell.c1.x, cell.c1.y);
    let y1 = vec4<f32>(cell.c0.z, cell.c0.w, cell.c1.z, cell.c1.w);
    let plus_y = mix(y1, yp, f.y);
    let minus_y = mix(ym, y0, f.y);
    let gy = mix(mix(plus_y.x, plus_y.y, f.x), mix(plus_y.z, plus_y.w, f.x), f.z)
        - mix(mix(minus_y.x, minus_y.y, f.x), mix(minus_y.z, minus_y.w, f.x), f.z);
    // Along z: the planes z = lo.z and up.z.
    let zm = vec4<f32>(stored(b.x, b.y, lo.z), stored(n.x, b.y, lo.z), stored(b.x, n.y, lo.z), stored(n.x, n.y, lo.z));
    let zp = vec4<f32>(stored(b.x, b.y, up.z), stored(n.x, b.y, up.z), stored(b.x, n.y, up.z), stored(n.x, n.y, up.z));
    let gz = mix(bilerp(cell.c1, f.xy), bilerp(zp, f.xy), f.z) - mix(bilerp(zm, f.xy), bilerp(cell.c0, f.xy), f.z);
    return vec3<f32>(gx, gy, gz) * 0.5;
}

// Headlight shading of `rgb` with `gv`, the gradient of modality values per voxel.
fn shade(rgb: vec3<f32>, gv: vec3<f32>, dir: vec3<f32>) -> vec3<f32> {
    let m = mat3x3<f32>(
        vr.voxel_from_patient[0].xyz,
        vr.voxel_from_patient[1].xyz,
        vr.voxel_from_patient[2].xyz,
    );
    // d f / d p_j = sum_i d f / d v_i * d v_i / d p_j: the row vector times the matrix.
    let g = gv * m;
    let len = length(g);
    if len < MIN_GRADIENT {
        return rgb;
    }
    let ndl = abs(dot(g, dir)) / len;
    return min(rgb * (AMBIENT + DIFFUSE * ndl) + vec3<f32>(SPECULAR * pow(ndl, SHININESS)), vec3<f32>(1.0));
}

// The block of a texture voxel coordinate.
fn block_of(v: vec3<f32>) -> vec3<i32> {
    let b = vec3<i32>(floor(v / vr.block_size));
    return clamp(b, vec3<i32>(0), vec3<i32>(vr.blocks) - vec3<i32>(1));
}

// Stored min/max of a block, from its tile of the atlas.
fn block_range(b: vec3<i32>) -> vec2<f32> {
    let nb = vec3<i32>(vr.blocks);
    let cols = i32(vr.atlas_cols);
    let tile = vec2<i32>(b.z % cols, b.z / cols);
    let r = textureLoad(blocks, tile * nb.xy + b.xy, 0);
    return vec2<f32>(f32(r.x), f32(r.y));
}

// Where the ray o + t d leaves the block's box of texture voxels.
fn block_exit(b: vec3<i32>, o: vec3<f32>, d: vec3<f32>) -> f32 {
    let lo = vec3<f32>(b) * vr.block_size;
    let hi = lo + vec3<f32>(vr.block_size);
    let small = abs(d) < vec3<f32>(1e-12);
    let safe = select(d, vec3<f32>(1.0), small);
    let far = select(max((lo - o) / safe, (hi - o) / safe), vec3<f32>(1e30), small);
    return min(far.x, min(far.y, far.z));
}

fn finish(rgb: vec3<f32>) -> vec4<f32> {
    var c = clamp(rgb, vec3<f32>(0.0), vec3<f32>(1.0));
    if vr.srgb_target > 0.5 {
        c = vec3<f32>(linear_from_srgb(c.x), linear_from_srgb(c.y), linear_from_srgb(c.z));
    }
    return vec4<f32>(c, 1.0);
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let uv = (in.position.xy * vr.px_scale - vr.viewport * 0.5) * vr.mm_per_px;
    let o = vr.origin + vr.right * uv.x + vr.down * uv.y;
    let dir = cross(vr.right, vr.down);
    let ov = (vr.voxel_from_patient * vec4<f32>(o, 1.0)).xyz;
    let dv = (vr.voxel_from_patient * vec4<f32>(dir, 0.0)).xyz;
    // The ray's interval inside the clip box (slabs per axis).
    let small = abs(dv) < vec3<f32>(1e-12);
    let safe = select(dv, vec3<f32>(1.0), small);
    let ta = (vr.clip_min - ov) / safe;
    let tb = (vr.clip_max - ov) / safe;
    let near = select(min(ta, tb), vec3<f32>(-1e30), small);
    let far = select(max(ta, tb), vec3<f32>(1e30), small);
    let outside = small & ((ov < vr.clip_min) | (ov > vr.clip_max));
    let t0 = max(near.x, max(near.y, near.z));
    let t1 = min(far.x, min(far.y, far.z));
    if any(outside) || t0 > t1 || any(vr.clip_min > vr.clip_max) {
        return vec4<f32>(0.0, 0.0, 0.0, 1.0);
    }
    let step = vr.step_mm;
    let k0 = i32(ceil(t0 / step));
    let k1 = min(i32(floor(t1 / step)), k0 + i32(vr.max_samples) - 1);
    // MIP: a value below the window's floor shows black, as a ray without samples
    // does, so blocks below max(floor, running maximum) cannot change the pixel.
    let floor_value = vr.window.x - 0.5 - 0.5 * max(max(vr.window.y, 1.0) - 1.0, 1e-3);
    var acc = vec3<f32>(0.0);
    var alpha = 0.0;
    var peak = -3.0e38;
    var hit = false;
    var done = false;
    // MIP with skipping takes two passes over the ray: first the blocks holding its
    // highest block maximum `top` (found by a walk that reads only the atlas), then
    // the others that can still raise the maximum found — usually none, where a
    // front-to-back pass would sample every block brighter than what lies before it.
    var passes = 1;
    var top = 3.0e38;
    if MODE == 0 && vr.skip > 0.5 {
        passes = 2;
        top = -3.0e38;
        var k = k0;
        loop {
            if k > k1 {
                break;
            }
            let b = block_of(ov + dv * (f32(k) * step));
            let range = block_range(b) * vr.rescale.x + vec2<f32>(vr.rescale.y);
            top = max(top, max(range.x, range.y));
            k = max(k + 1, i32(ceil(block_exit(b, ov, dv) / step)));
        }
        if top < floor_value {
            // Every sample is below the window: black, as without samples.
            return finish(vec3<f32>(0.0));
        }
    }
    for (var sweep = 0; sweep < passes; sweep = sweep + 1) {
        var k = k0;
        loop {
            // Walk to the first block that may change the pixel; `last`: the last sample
            // in it (every sample to the end of the ray without skipping).
            var last = k1;
            var block_max = 3.0e38;
            if vr.skip > 0.5 {
                loop {
                    if k > k1 {
                        break;
                    }
                    let b = block_of(ov + dv * (f32(k) * step));
                    let range = block_range(b) * vr.rescale.x + vec2<f32>(vr.rescale.y);
                    let exit = max(k + 1, i32(ceil(block_exit(b, ov, dv) / step)));
                    var empty = false;
                    if MODE == 0 {
                        block_max = max(range.x, range.y);
                        if sweep + 1 < passes {
                            empty = block_max < top;
                        } else {
                            // Below what is found, or done in the first pass.
                            empty = block_max < max(peak, floor_value) || block_max >= top;
                        }
                    } else {
                        empty = range_is_empty(range.x, range.y);
                    }
                    if !empty {
                        last = min(exit - 1, k1);
                        break;
                    }
                    k = exit;
                }
            }
            if k > k1 {
                break;
            }
            // Every sample of the block.
            loop {
                if k > last {
                    break;
                }
                let v = ov + dv * (f32(k) * step);
                k = k + 1;
                if MODE == 0 {
                    peak = max(peak, value_at(v));
                    hit = true;
                    if peak >= block_max {
                        // The rest of the block cannot raise the maximum.
                        k = last + 1;
                    }
                } else {
                    let cell = cell_at(v);
                    let c = lut_lookup(cell_value(cell) * vr.rescale.x + vr.rescale.y);
                    if c.a > 0.0 {
                        let a = sample_opacity(c.a, step);
                        var rgb = c.rgb;
                        if MODE == 2 {
                            rgb = shade(rgb, cell_gradient(cell) * vr.rescale.x, dir);
                        }
                        acc = acc + (1.0 - alpha) * a * rgb;
                        alpha = alpha + (1.0 - alpha) * a;
                        if alpha >= vr.early_alpha {
                            done = true;
                            break;
                        }
                    }
                }
            }
            if done {
                break;
            }
        }
    }
    if MODE == 0 {
        if !hit {
            return vec4<f32>(0.0, 0.0, 0.0, 1.0);
        }
        let g = voi_linear(peak, vr.window);
        return finish(vec3<f32>(g));
    }
    return finish(acc);
}

// Upscales the preview (drawn by fs_main at 1 / px_scale of the size) into the
// target, bilinearly; an sRGB target has an sRGB preview, so colours pass unchanged.
@fragment
fn fs_upscale(in: VertexOut) -> @location(0) vec4<f32> {
    let size = ceil(vr.viewport / vr.px_scale);
    // Preview pixel i covers full-size pixels [i * px_scale, (i + 1) * px_scale).
    let uv = in.position.xy / vr.px_scale / size;
    return vec4<f32>(textureSampleLevel(preview, preview_sampler, uv, 0.0).rgb, 1.0);
}

// Builds the block atlas: one fragment per block (tile column/row = k-layer), the
// min/max stored value over the block's voxels and a one-voxel margin.
@fragment
fn fs_blocks(in: VertexOut) -> @location(0) vec4<i32> {
    let px = vec2<i32>(floor(in.position.xy));
    let nb = vec3<i32>(vr.blocks);
    let tile = px / nb.xy;
    let b = vec3<i32>(px - tile * nb.xy, tile.y * i32(vr.atlas_cols) + tile.x);
    if b.z >= nb.z {
        return vec4<i32>(0, 0, 0, 0);
    }
    let size = i32(vr.block_size);
    let hi = vec3<i32>(vr.dims) - vec3<i32>(1);
    let lo = clamp(b * size - vec3<i32>(1), vec3<i32>(0), hi);
    let up = clamp(b * size + vec3<i32>(size + 1), vec3<i32>(0), hi);
    var mn = 1000000;
    var mx = -1000000;
    for (var z = lo.z; z <= up.z; z = z + 1) {
        for (var y = lo.y; y <= up.y; y = y + 1) {
            for (var x = lo.x; x <= up.x; x = x + 1) {
                let s = i32(round(stored(x, y, z)));
                mn = min(mn, s);
                mx = max(mx, s);
            }
        }
    }
    return vec4<i32>(mn, mx, 0, 0);
}
