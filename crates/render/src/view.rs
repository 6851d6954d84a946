//! Per-draw parameters: where the image lies on screen and how stored values become
//! gray ([`ViewState`]), and the padded uniform the shader reads ([`ViewUniform`]).

use bytemuck::{Pod, Zeroable};

/// A VOI window in modality units (HU for CT).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiWindow {
    pub center: f64,
    pub width: f64,
}

impl VoiWindow {
    /// Display value in [0, 1] for a modality value: the VOI LINEAR function of
    /// PS3.3 C.11.2.1.2.1 (the same formula as the shader, for tests and probes).
    pub fn gray_from_value(&self, x: f64) -> f64 {
        let w = self.width.max(1.0);
        ((x - (self.center - 0.5)) / (w - 1.0).max(1e-3) + 0.5).clamp(0.0, 1.0)
    }
}

/// How one image is shown in one viewport.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewState {
    /// Target size in physical pixels.
    pub viewport_px: [f32; 2],
    /// Image size: columns, rows.
    pub image_px: [f32; 2],
    /// Row spacing / column spacing (1 for square pixels): rows are drawn this much taller.
    pub pixel_aspect: f32,
    /// 1 = the whole image fits the viewport.
    pub zoom: f32,
    /// Offset of the image centre from the viewport centre, physical pixels.
    pub pan_px: [f32; 2],
    pub window: VoiWindow,
    /// Rescale Slope and Intercept (stored → modality values).
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
    /// MONOCHROME1 (or the user's inversion): high values dark.
    pub invert: bool,
}

impl ViewState {
    /// Screen pixels per image column at this zoom.
    pub fn scale(&self) -> f32 {
        let [vw, vh] = self.viewport_px;
        let [iw, ih] = self.image_px;
        let fit = (vw / iw.max(1.0)).min(vh / (ih.max(1.0) * self.pixel_aspect.max(1e-6)));
        fit * self.zoom
    }

    /// Screen position (physical pixels, origin top left) of an image position
    /// (image pixels, (0,0) = top left corner of the first pixel).
    pub fn screen_from_image(&self, image: [f32; 2]) -> [f32; 2] {
        let s = self.scale();
        let a = self.pixel_aspect;
        let c = self.screen_centre();
        [
            c[0] + (image[0] - self.image_px[0] / 2.0) * s,
            c[1] + (image[1] - self.image_px[1] / 2.0) * s * a,
        ]
    }

    /// Image position of a screen position (inverse of [`Self::screen_from_image`]).
    pub fn image_from_screen(&self, screen: [f32; 2]) -> [f32; 2] {
        let s = self.scale();
        let a = self.pixel_aspect;
        let c = self.screen_centre();
        [
            (screen[0] - c[0]) / s + self.image_px[0] / 2.0,
            (screen[1] - c[1]) / (s * a) + self.image_px[1] / 2.0,
        ]
    }

    fn screen_centre(&self) -> [f32; 2] {
        [
            self.viewport_px[0] / 2.0 + self.pan_px[0],
            self.viewport_px[1] / 2.0 + self.pan_px[1],
        ]
    }

    /// The uniform for the shader; `srgb_target` when the target format encodes sRGB.
    pub fn uniform(&self, srgb_target: bool) -> ViewUniform {
        let s = self.scale();
        let a = self.pixel_aspect;
        let m = [1.0 / s, 0.0, 0.0, 1.0 / (s * a)];
        let c = self.screen_centre();
        let offset = [
            self.image_px[0] / 2.0 - c[0] * m[0],
            self.image_px[1] / 2.0 - c[1] * m[3],
        ];
        ViewUniform {
            image_from_screen: m,
            offset,
            image_size: self.image_px,
            rescale: [self.rescale_slope as f32, self.rescale_intercept as f32],
            window: [self.window.center as f32, self.window.width as f32],
            invert: if self.invert { 1.0 } else { 0.0 },
            srgb_target: if srgb_target { 1.0 } else { 0.0 },
            _pad: [0.0; 2],
        }
    }
}

/// `struct View` of `shader/image.wgsl`, byte for byte (64 bytes, 16-aligned).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct ViewUniform {
    /// Column-major 2×2: image position = M · framebuffer position + offset.
    pub image_from_screen: [f32; 4],
    pub offset: [f32; 2],
    pub image_size: [f32; 2],
    pub rescale: [f32; 2],
    pub window: [f32; 2],
    pub invert: f32,
    pub srgb_target: f32,
    pub _pad: [f32; 2],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ViewState {
        ViewState {
            viewport_px: [800.0, 600.0],
            image_px: [512.0, 512.0],
            pixel_aspect: 1.0,
            zoom: 1.0,
            pan_px: [0.0, 0.0],
            window: VoiWindow {
                center: 40.0,
                width: 400.0,
            },
            rescale_slope: 1.0,
            rescale_intercept: -1024.0,
            invert: false,
        }
    }

    #[test]
    fn fit_centres_the_image_in_the_shorter_side() {
        let v = state();
        assert_eq!(v.scale(), 600.0 / 512.0);
        assert_eq!(v.screen_from_image([0.0, 0.0]), [100.0, 0.0]);
        assert_eq!(v.screen_from_image([512.0, 512.0]), [700.0, 600.0]);
    }

    #[test]
    fn screen_and_image_round_trip_with_zoom_pan_and_aspect() {
        let mut v = state();
        v.zoom = 2.5;
        v.pan_px = [-33.0, 71.0];
        v.pixel_aspect = 1.25;
        for p in [[0.0, 0.0], [511.5, 3.25], [100.0, 400.0]] {
            let back = v.image_from_screen(v.screen_from_image(p));
            assert!((back[0] - p[0]).abs() < 1e-3 && (back[1] - p[1]).abs() < 1e-3);
        }
    }

    #[test]
    fn uniform_maps_screen_to_image_like_image_from_screen() {
        let mut v = state();
        v.zoom = 1.7;
        v.pan_px = [12.0, -40.0];
        let u = v.uniform(false);
        let s = [321.5, 77.5];
        let m = u.image_from_screen;
        let by_uniform = [
            m[0] * s[0] + m[2] * s[1] + u.offset[0],
            m[1] * s[0] + m[3] * s[1] + u.offset[1],
        ];
        let expected = v.image_from_screen(s);
        assert!((by_uniform[0] - expected[0]).abs() < 1e-3);
        assert!((by_uniform[1] - expected[1]).abs() < 1e-3);
        assert_eq!(std::mem::size_of::<ViewUniform>(), 64);
    }

    #[test]
    fn voi_linear_matches_the_standard_formula() {
        // PS3.3 C.11.2.1.2.1 with c = 40, w = 400: x <= -159.5 → 0, x > 239.5 → 1.
        let w = VoiWindow {
            center: 40.0,
            width: 400.0,
        };
        assert_eq!(w.gray_from_value(-160.0), 0.0);
        assert_eq!(w.gray_from_value(240.0), 1.0);
        assert!((w.gray_from_value(39.5) - 0.5).abs() < 1e-12);
        assert!((w.gray_from_value(139.25) - 0.75).abs() < 1e-12);
    }
}
