// Unsigned 16-bit stored values (R16Uint).
// Grayscale: the one stored value in all three channels.
@group(1) @binding(0) var frame: texture_2d<u32>;

fn stored_at(p: vec2<i32>) -> vec3<f32> {
    return vec3<f32>(f32(textureLoad(frame, p, 0).x));
}
