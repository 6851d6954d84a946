// Colour (R, G, B, 255 bytes per pixel; Rgba8Unorm): each channel as an 8-bit
// stored value 0..255, so the VOI LINEAR window of image.wgsl applies per channel
// (center 128, width 256 shows the colours as they are).
@group(1) @binding(0) var frame: texture_2d<f32>;

fn stored_at(p: vec2<i32>) -> vec3<f32> {
    return textureLoad(frame, p, 0).rgb * 255.0;
}
