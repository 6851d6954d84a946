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
    /// The window that shows 8-bit colour channels as they are (0 → 0, 255 → 1).
    /// Colour frames go through the same per-channel LINEAR function, so a
    /// window/level drag changes their contrast and brightness linearly.
    pub const COLOUR_AS_IS: VoiWindow = VoiWindow {
        center: 128.0,
        width: 256.0,
    };

    /// Display value in [0, 1] for a modality value: the VOI LINEAR function of
    /// PS3.3 C.11.2.1.2.1 (the same formula as the shader, for tests and probes).
    pub fn gray_from_value(&self, x: f64) -> f64 {
        let w = self.width.max(1.0);
        ((x - (self.center - 0.5)) / (w - 1.0).max(1e-3) + 0.5).clamp(0.0, 1.0)
    }
}

/// How the image is turned on screen: mirrored left–right first (`flip`), then
/// rotated `quarter_turns` × 90° clockwise. Every combination of rotations and flips
/// (the 8 symmetries of a rectangle) is one such pair, and the toolbar's operations
/// act in screen terms ([`Self::rotated`], [`Self::flipped_horizontally`], …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Orientation {
    /// Clockwise quarter turns, 0..=3.
    pub quarter_turns: u8,
    /// Columns mirrored (image left ↔ right) before the rotation.
    pub flip: bool,
}

impl Orientation {
    /// Turned by `quarter_turns` × 90° clockwise on screen (negative: counter-clockwise).
    pub fn rotated(self, quarter_turns: i32) -> Orientation {
        Orientation {
            quarter_turns: (i32::from(self.quarter_turns) + quarter_turns).rem_euclid(4) as u8,
            flip: self.flip,
        }
    }

    /// Mirrored left ↔ right on screen: H·R^k·F^f = R^(-k)·F^(f+1).
    pub fn flipped_horizontally(self) -> Orientation {
        Orientation {
            quarter_turns: (4 - self.quarter_turns % 4) % 4,
            flip: !self.flip,
        }
    }

    /// Mirrored top ↔ bottom on screen: V = R²·H, so V·R^k·F^f = R^(2-k)·F^(f+1).
    pub fn flipped_vertically(self) -> Orientation {
        Orientation {
            quarter_turns: (6 - self.quarter_turns % 4) % 4,
            flip: !self.flip,
        }
    }

    /// True when image columns run vertically on screen.
    pub fn is_transposed(self) -> bool {
        self.quarter_turns % 2 == 1
    }

    /// A vector in image space (x right along a row, y down a column), as it points on
    /// screen (x right, y down).
    pub fn screen_from_image_dir(self, v: [f64; 2]) -> [f64; 2] {
        let mut q = if self.flip { [-v[0], v[1]] } else { v };
        for _ in 0..self.quarter_turns % 4 {
            q = [-q[1], q[0]];
        }
        q
    }

    /// Inverse of [`Self::screen_from_image_dir`].
    pub fn image_from_screen_dir(self, v: [f64; 2]) -> [f64; 2] {
        let mut q = v;
        for _ in 0..self.quarter_turns % 4 {
            q = [q[1], -q[0]];
        }
        if self.flip { [-q[0], q[1]] } else { q }
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
    /// Rotation and mirroring on screen.
    pub orientation: Orientation,
    pub window: VoiWindow,
    /// Rescale Slope and Intercept (stored → modality values).
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
    /// MONOCHROME1 (or the user's inversion): high values dark.
    pub invert: bool,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            viewport_px: [1.0, 1.0],
            image_px: [1.0, 1.0],
            pixel_aspect: 1.0,
            zoom: 1.0,
            pan_px: [0.0, 0.0],
            orientation: Orientation::default(),
            window: VoiWindow {
                center: 40.0,
                width: 400.0,
            },
            rescale_slope: 1.0,
            rescale_intercept: 0.0,
            invert: false,
        }
    }
}

impl ViewState {
    /// The image's extent on screen at scale 1 (columns as units), after rotation.
    fn extent(&self) -> [f32; 2] {
        let w = self.image_px[0].max(1.0);
        let h = self.image_px[1].max(1.0) * self.pixel_aspect.max(1e-6);
        if self.orientation.is_transposed() {
            [h, w]
        } else {
            [w, h]
        }
    }

    /// Screen pixels per image column when the whole image fits (zoom 1).
    pub fn fit_scale(&self) -> f32 {
        let [vw, vh] = self.viewport_px;
        let [ew, eh] = self.extent();
        (vw / ew).min(vh / eh)
    }

    /// Screen pixels per image column at this zoom.
    pub fn scale(&self) -> f32 {
        self.fit_scale() * self.zoom
    }

    /// The zoom at which one image column spans `pixels_per_column` physical pixels
    /// (1.0: "1:1", one image pixel per device pixel).
    pub fn zoom_for_scale(&self, pixels_per_column: f32) -> f32 {
        pixels_per_column / self.fit_scale().max(1e-9)
    }

    /// Zoomed by `factor` keeping the image point under `screen` where it is.
    pub fn zoomed_about(&self, screen: [f32; 2], factor: f32) -> ViewState {
        let anchor = self.image_from_screen(screen);
        let mut next = *self;
        next.zoom = (self.zoom * factor).clamp(0.05, 64.0);
        let moved = next.screen_from_image(anchor);
        next.pan_px = [
            next.pan_px[0] + screen[0] - moved[0],
            next.pan_px[1] + screen[1] - moved[1],
        ];
        next
    }

    /// Screen position (physical pixels, origin top left) of an image position
    /// (image pixels, (0,0) = top left corner of the first pixel).
    pub fn screen_from_image(&self, image: [f32; 2]) -> [f32; 2] {
        let s = f64::from(self.scale());
        let a = f64::from(self.pixel_aspect);
        let c = self.screen_centre();
        let q = [
            (f64::from(image[0]) - f64::from(self.image_px[0]) / 2.0) * s,
            (f64::from(image[1]) - f64::from(self.image_px[1]) / 2.0) * s * a,
        ];
        let d = self.orientation.screen_from_image_dir(q);
        [
            (f64::from(c[0]) + d[0]) as f32,
            (f64::from(c[1]) + d[1]) as f32,
        ]
    }

    /// Image position of a screen position (inverse of [`Self::screen_from_image`]).
    pub fn image_from_screen(&self, screen: [f32; 2]) -> [f32; 2] {
        let s = f64::from(self.scale());
        let a = f64::from(self.pixel_aspect);
        let c = self.screen_centre();
        let q = self.orientation.image_from_screen_dir([
            f64::from(screen[0]) - f64::from(c[0]),
            f64::from(screen[1]) - f64::from(c[1]),
        ]);
        [
            (q[0] / s + f64::from(self.image_px[0]) / 2.0) as f32,
            (q[1] / (s * a) + f64::from(self.image_px[1]) / 2.0) as f32,
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
        // image = M · screen + offset, M from the (affine) inverse mapping itself.
        let o = self.image_from_screen([0.0, 0.0]);
        let ex = self.image_from_screen([1.0, 0.0]);
        let ey = self.image_from_screen([0.0, 1.0]);
        // Column derivatives computed in f64 for exactness at high zoom.
        let s = f64::from(self.scale());
        let a = f64::from(self.pixel_aspect);
        let dx = self.orientation.image_from_screen_dir([1.0, 0.0]);
        let dy = self.orientation.image_from_screen_dir([0.0, 1.0]);
        let m = [
            (dx[0] / s) as f32,
            (dx[1] / (s * a)) as f32,
            (dy[0] / s) as f32,
            (dy[1] / (s * a)) as f32,
        ];
        debug_assert!((ex[0] - o[0] - m[0]).abs() < 1e-2 && (ey[1] - o[1] - m[3]).abs() < 1e-2);
        ViewUniform {
            image_from_screen: m,
            offset: o,
            image_size: self.image_px,
            rescale: [self.rescale_slope as f32, self.rescale_intercept as f32],
            window: [self.window.center as f32, self.window.width as f32],
            invert: if self.invert { 1.0 } else { 0.0 },
            srgb_target: if srgb_target { 1.0 } else { 0.0 },
            texel_scale: 1.0,
            _pad: 0.0,
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
    /// Image pixels per texel: 1, or the factor a frame larger than the renderer's
    /// per-frame memory budget was reduced by on upload ([`crate::GpuImage::reduction`]).
    pub texel_scale: f32,
    pub _pad: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ViewState {
        ViewState {
            viewport_px: [800.0, 600.0],
            image_px: [512.0, 512.0],
            rescale_intercept: -1024.0,
            ..ViewState::default()
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

    fn all_orientations() -> Vec<Orientation> {
        (0..4)
            .flat_map(|k| {
                [false, true].map(|flip| Orientation {
                    quarter_turns: k,
                    flip,
                })
            })
            .collect()
    }

    fn close(a: [f32; 2], b: [f32; 2], tol: f32) -> bool {
        (a[0] - b[0]).abs() < tol && (a[1] - b[1]).abs() < tol
    }

    #[test]
    fn rotation_and_flips_move_the_corners_where_a_radiologist_expects() {
        // 800×600 viewport, 512² image fitted: it covers x 100..700, y 0..600.
        let mut v = state();
        // Rotate right: the image's top-left corner goes to the top right.
        v.orientation = Orientation::default().rotated(1);
        assert!(close(v.screen_from_image([0.0, 0.0]), [700.0, 0.0], 1e-3));
        assert!(close(v.screen_from_image([0.0, 512.0]), [100.0, 0.0], 1e-3));
        // Rotate left: top-left goes to the bottom left.
        v.orientation = Orientation::default().rotated(-1);
        assert!(close(v.screen_from_image([0.0, 0.0]), [100.0, 600.0], 1e-3));
        // Flip horizontal: top-left goes to the top right; vertical: to the bottom left.
        v.orientation = Orientation::default().flipped_horizontally();
        assert!(close(v.screen_from_image([0.0, 0.0]), [700.0, 0.0], 1e-3));
        assert!(close(
            v.screen_from_image([512.0, 512.0]),
            [100.0, 600.0],
            1e-3
        ));
        v.orientation = Orientation::default().flipped_vertically();
        assert!(close(v.screen_from_image([0.0, 0.0]), [100.0, 600.0], 1e-3));
        assert!(close(
            v.screen_from_image([512.0, 0.0]),
            [700.0, 600.0],
            1e-3
        ));
    }

    #[test]
    fn screen_operations_compose_like_the_rectangle_symmetries() {
        let o = Orientation::default();
        assert_eq!(o.rotated(1).rotated(-1), o);
        assert_eq!(o.rotated(4), o);
        for x in all_orientations() {
            assert_eq!(x.flipped_horizontally().flipped_horizontally(), x);
            assert_eq!(x.flipped_vertically().flipped_vertically(), x);
            // H then V is a half turn, whatever came before.
            assert_eq!(x.flipped_horizontally().flipped_vertically(), x.rotated(2));
            // A flip after a rotation acts on screen: the screen's right goes left.
            let h = x.flipped_horizontally();
            for d in [[1.0, 0.0], [0.0, 1.0], [0.6, -0.8]] {
                let before = x.screen_from_image_dir(d);
                let after = h.screen_from_image_dir(d);
                assert!(
                    (after[0] + before[0]).abs() < 1e-12 && (after[1] - before[1]).abs() < 1e-12
                );
                let back = x.image_from_screen_dir(x.screen_from_image_dir(d));
                assert!((back[0] - d[0]).abs() < 1e-12 && (back[1] - d[1]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn round_trip_and_uniform_agree_under_every_rotation_and_flip() {
        for o in all_orientations() {
            let mut v = state();
            v.image_px = [300.0, 200.0];
            v.pixel_aspect = 1.25;
            v.zoom = 2.3;
            v.pan_px = [17.0, -29.0];
            v.orientation = o;
            let u = v.uniform(false);
            let m = u.image_from_screen;
            for p in [[0.0, 0.0], [299.5, 3.25], [120.0, 180.0]] {
                let s = v.screen_from_image(p);
                assert!(close(v.image_from_screen(s), p, 1e-3), "{o:?} {p:?}");
                let by_uniform = [
                    m[0] * s[0] + m[2] * s[1] + u.offset[0],
                    m[1] * s[0] + m[3] * s[1] + u.offset[1],
                ];
                assert!(close(by_uniform, p, 1e-2), "{o:?} {p:?}: {by_uniform:?}");
            }
        }
    }

    #[test]
    fn a_quarter_turn_fits_the_rotated_extent() {
        let mut v = state();
        v.image_px = [400.0, 100.0];
        assert_eq!(v.fit_scale(), 2.0); // 800 / 400
        v.orientation = Orientation::default().rotated(1);
        assert_eq!(v.fit_scale(), 1.5); // 600 / 400 after the turn
    }

    #[test]
    fn one_to_one_means_one_image_pixel_per_device_pixel() {
        let mut v = state();
        v.zoom = v.zoom_for_scale(1.0);
        assert!((v.scale() - 1.0).abs() < 1e-6);
        let a = v.screen_from_image([10.0, 10.0]);
        let b = v.screen_from_image([11.0, 10.0]);
        assert!((b[0] - a[0] - 1.0).abs() < 1e-4);
    }

    #[test]
    fn zooming_about_a_point_keeps_it_under_the_pointer() {
        for o in all_orientations() {
            let mut v = state();
            v.orientation = o;
            v.pan_px = [30.0, -12.0];
            let pointer = [612.0, 143.0];
            let under = v.image_from_screen(pointer);
            let z = v.zoomed_about(pointer, 2.5);
            assert!((z.zoom - 2.5).abs() < 1e-6);
            assert!(close(z.image_from_screen(pointer), under, 1e-3), "{o:?}");
        }
    }
}
