// Signed 16-bit stored values (R16Sint).
@group(1) @binding(0) var frame: texture_2d<i32>;

fn stored_at(p: vec2<i32>) -> f32 {
    return f32(textureLoad(frame, p, 0).x);
}
