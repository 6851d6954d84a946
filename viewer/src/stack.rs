//! A series as a stack of slices: their order, the slice on screen, the order in which
//! frames are fetched (the slice on screen and its neighbours first), and window/level
//! (mouse drag, CT presets on keys 1–8, the file's own window on 9).

use crate::dicom::{FileWindow, Instance};

/// Slice order: by Instance Number when every slice has a distinct one, else by
/// position along the slice normal (highest first: head before feet for axial
/// slices), else as listed.
pub fn slice_order(instances: &[Instance]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..instances.len()).collect();
    let numbers: Vec<Option<i64>> = instances.iter().map(|i| i.instance_number).collect();
    let mut distinct: Vec<i64> = numbers.iter().flatten().copied().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() == instances.len() {
        idx.sort_by_key(|&i| numbers[i]);
        return idx;
    }
    let along: Vec<Option<f64>> = instances.iter().map(position_along_normal).collect();
    if along.iter().all(Option::is_some) {
        idx.sort_by(|&a, &b| along[b].unwrap_or(0.0).total_cmp(&along[a].unwrap_or(0.0)));
    }
    idx
}

fn position_along_normal(i: &Instance) -> Option<f64> {
    let o = i.orientation?;
    let p = i.position?;
    let n = [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ];
    Some(n[0] * p[0] + n[1] * p[1] + n[2] * p[2])
}

/// The order in which to fetch `len` slices when `current` is on screen: it, then
/// its neighbours outwards (next, previous, next but one, …).
pub fn load_order(current: usize, len: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let current = current.min(len - 1);
    out.push(current);
    for d in 1..len {
        if current + d < len {
            out.push(current + d);
        }
        if d <= current {
            out.push(current - d);
        }
    }
    out
}

/// The slice on screen after scrolling `delta` slices (clamped to the stack).
pub fn scrolled(current: usize, delta: i64, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (current as i64 + delta).clamp(0, len as i64 - 1) as usize
}

/// A window in modality units (HU for CT).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowLevel {
    pub center: f64,
    pub width: f64,
}

impl WindowLevel {
    /// Colour images start here: each 8-bit channel shown as it is (the renderer's
    /// `VoiWindow::COLOUR_AS_IS`). Dragging from it changes contrast (width) and
    /// brightness (level) of all three channels alike, as OHIF/Cornerstone do; the
    /// CT presets and file windows do not apply to colour.
    pub const COLOUR_AS_IS: WindowLevel = WindowLevel {
        center: 128.0,
        width: 256.0,
    };

    /// After a mouse drag of (dx, dy) screen pixels: right widens, down raises the
    /// level (brighter becomes darker), at a rate that scales with the width.
    pub fn dragged(self, dx: f64, dy: f64) -> WindowLevel {
        let rate = (self.width / 256.0).max(1.0);
        WindowLevel {
            center: self.center + dy * rate,
            width: (self.width + dx * rate).max(1.0),
        }
    }

    /// "W 400 L 40", as the overlay shows it.
    pub fn label(&self) -> String {
        format!("W {:.0} L {:.0}", self.width, self.center)
    }

    /// The overlay's text: a colour image shown as it is has no window to tell.
    pub fn overlay_label(&self, colour: bool) -> String {
        if colour && *self == WindowLevel::COLOUR_AS_IS {
            String::new()
        } else {
            self.label()
        }
    }
}

/// A named CT window on a number key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    pub key: char,
    pub name_th: &'static str,
    pub name_en: &'static str,
    pub window: WindowLevel,
}

const fn preset(
    key: char,
    name_th: &'static str,
    name_en: &'static str,
    center: f64,
    width: f64,
) -> Preset {
    Preset {
        key,
        name_th,
        name_en,
        window: WindowLevel { center, width },
    }
}

/// CT presets (center / width in HU).
pub const CT_PRESETS: [Preset; 8] = [
    preset('1', "สมอง", "Brain", 40.0, 80.0),
    preset('2', "เลือดออกใต้เยื่อหุ้มสมอง", "Subdural", 75.0, 215.0),
    preset('3', "สมองขาดเลือด", "Stroke", 40.0, 40.0),
    preset('4', "ปอด", "Lung", -600.0, 1500.0),
    preset('5', "ช่องอก", "Mediastinum", 50.0, 350.0),
    preset('6', "ช่องท้อง", "Abdomen", 50.0, 400.0),
    preset('7', "ตับ", "Liver", 30.0, 150.0),
    preset('8', "กระดูก", "Bone", 400.0, 1800.0),
];

/// The key that restores the file's own window.
pub const FILE_WINDOW_KEY: char = '9';

pub fn preset_for_key(key: &str) -> Option<&'static Preset> {
    let mut chars = key.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    CT_PRESETS.iter().find(|p| p.key == c)
}

/// Slices one Page Up / Page Down moves: 10, or a tenth of the stack when that is more.
pub fn page_step(len: usize) -> i64 {
    (len / 10).max(10) as i64
}

/// The next slice of cine playback: forward, wrapping to the first after the last.
pub fn cine_next(current: usize, len: usize) -> usize {
    if len == 0 { 0 } else { (current + 1) % len }
}

/// Cine speeds the viewer offers, frames per second.
pub const CINE_FPS: [u32; 8] = [2, 5, 10, 15, 20, 25, 30, 60];
/// Cine speed when the file names none.
pub const DEFAULT_CINE_FPS: u32 = 15;

/// The cine speed one step faster (`step` > 0) or slower than `fps`, on [`CINE_FPS`].
pub fn cine_fps_step(fps: u32, step: i32) -> u32 {
    let at = CINE_FPS
        .iter()
        .position(|&f| f >= fps)
        .unwrap_or(CINE_FPS.len() - 1);
    let next = (at as i32 + step).clamp(0, CINE_FPS.len() as i32 - 1) as usize;
    CINE_FPS[next]
}

/// Key 9: the file's window after `current` (the first when `current` is none of
/// them), with its index, to cycle through all the windows a file offers.
pub fn next_file_window(
    current: WindowLevel,
    windows: &[FileWindow],
) -> Option<(usize, WindowLevel)> {
    let at = windows
        .iter()
        .position(|w| w.center == current.center && w.width == current.width);
    let next = at.map_or(0, |i| (i + 1) % windows.len().max(1));
    windows.get(next).map(|w| {
        (
            next,
            WindowLevel {
                center: w.center,
                width: w.width,
            },
        )
    })
}

/// The window to open a series with: the file's first window, else the full range of
/// the first frame's values (after rescale), else a soft-tissue window.
pub fn initial_window(instance: &Instance, stored_min_max: Option<(f64, f64)>) -> WindowLevel {
    if instance.is_colour() {
        return WindowLevel::COLOUR_AS_IS;
    }
    if let Some(w) = instance.windows.first() {
        return WindowLevel {
            center: w.center,
            width: w.width,
        };
    }
    if let Some((lo, hi)) = stored_min_max {
        let s = instance.pixel.rescale_slope;
        let b = instance.pixel.rescale_intercept;
        let (a, z) = (lo * s + b, hi * s + b);
        let (lo, hi) = (a.min(z), a.max(z));
        return WindowLevel {
            center: (lo + hi) / 2.0,
            width: (hi - lo).max(1.0),
        };
    }
    WindowLevel {
        center: 40.0,
        width: 400.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rangsi_wire::decode::PixelModule;

    fn inst(number: Option<i64>, z: f64) -> Instance {
        Instance {
            sop_uid: format!("1.{z}"),
            instance_number: number,
            position: Some([-180.0, -180.0, z]),
            orientation: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            slice_location: Some(z),
            slice_thickness: Some(1.0),
            pixel_spacing: Some([0.7, 0.7]),
            windows: vec![],
            pixel: PixelModule {
                rows: 512,
                columns: 512,
                samples_per_pixel: 1,
                bits_allocated: 16,
                bits_stored: 16,
                high_bit: 15,
                pixel_representation: 1,
                planar_configuration: 0,
                photometric: "MONOCHROME2".into(),
                number_of_frames: 1,
                rescale_slope: 1.0,
                rescale_intercept: -1024.0,
                float_pixels: false,
                transfer_syntax: None,
                palette: None,
            },
            frame_of_reference: Some("1.2.3".into()),
            frame_time_ms: None,
        }
    }

    #[test]
    fn slices_follow_instance_numbers_else_head_to_feet() {
        let by_number = [inst(Some(3), -2.0), inst(Some(1), 0.0), inst(Some(2), -1.0)];
        assert_eq!(slice_order(&by_number), vec![1, 2, 0]);
        // Duplicate numbers: position along the normal (z for axial), highest first.
        let dup = [inst(Some(1), -5.0), inst(Some(1), 10.0), inst(None, 2.5)];
        assert_eq!(slice_order(&dup), vec![1, 2, 0]);
    }

    #[test]
    fn neighbours_load_first() {
        assert_eq!(load_order(2, 6), vec![2, 3, 1, 4, 0, 5]);
        assert_eq!(load_order(0, 3), vec![0, 1, 2]);
        assert_eq!(load_order(9, 3), vec![2, 1, 0]);
        assert!(load_order(0, 0).is_empty());
        let mut all = load_order(17, 40);
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn scrolling_stops_at_the_ends() {
        assert_eq!(scrolled(0, -1, 40), 0);
        assert_eq!(scrolled(38, 5, 40), 39);
        assert_eq!(scrolled(10, -3, 40), 7);
        assert_eq!(scrolled(3, 1, 0), 0);
    }

    #[test]
    fn presets_are_the_standard_ct_windows_on_keys_1_to_8() {
        let lung = preset_for_key("4").expect("lung");
        assert_eq!(
            (lung.name_en, lung.window.center, lung.window.width),
            ("Lung", -600.0, 1500.0)
        );
        let bone = preset_for_key("8").expect("bone");
        assert_eq!((bone.window.center, bone.window.width), (400.0, 1800.0));
        assert_eq!(preset_for_key("3").expect("stroke").window.width, 40.0);
        assert!(preset_for_key("9").is_none() && preset_for_key("0").is_none());
        assert!(preset_for_key("10").is_none() && preset_for_key("").is_none());
    }

    #[test]
    fn drag_moves_the_window_and_keeps_it_positive() {
        let w = WindowLevel {
            center: 40.0,
            width: 400.0,
        };
        let d = w.dragged(10.0, -5.0);
        assert!(d.width > 400.0 && d.center < 40.0);
        assert_eq!(w.dragged(-10_000.0, 0.0).width, 1.0);
        assert_eq!(w.label(), "W 400 L 40");
    }

    #[test]
    fn initial_window_prefers_the_file() {
        let mut i = inst(Some(1), 0.0);
        assert_eq!(
            initial_window(&i, Some((24.0, 2024.0))),
            WindowLevel {
                center: 0.0,
                width: 2000.0
            }
        );
        i.windows.push(FileWindow {
            center: 40.0,
            width: 400.0,
            explanation: String::new(),
        });
        assert_eq!(
            initial_window(&i, None),
            WindowLevel {
                center: 40.0,
                width: 400.0
            }
        );
    }

    #[test]
    fn colour_opens_as_is_and_says_so_only_when_changed() {
        let mut i = inst(Some(1), 0.0);
        i.pixel.samples_per_pixel = 3;
        i.pixel.photometric = "RGB".into();
        // Neither the decoded range nor a (meaningless) file window applies.
        i.windows.push(FileWindow {
            center: 40.0,
            width: 400.0,
            explanation: String::new(),
        });
        let w = initial_window(&i, Some((0.0, 255.0)));
        assert_eq!(w, WindowLevel::COLOUR_AS_IS);
        assert_eq!(w.overlay_label(true), "");
        let dragged = w.dragged(10.0, -5.0);
        assert_eq!(dragged.overlay_label(true), "W 266 L 123");
        assert_eq!(w.overlay_label(false), "W 256 L 128");
    }

    #[test]
    fn page_keys_move_ten_or_a_tenth() {
        assert_eq!(page_step(24), 10);
        assert_eq!(page_step(300), 30);
        assert_eq!(scrolled(20, page_step(24), 24), 23);
    }

    #[test]
    fn cine_wraps_and_its_speed_steps_along_the_list() {
        assert_eq!(cine_next(22, 24), 23);
        assert_eq!(cine_next(23, 24), 0);
        assert_eq!(cine_next(0, 0), 0);
        assert_eq!(cine_fps_step(15, 1), 20);
        assert_eq!(cine_fps_step(15, -1), 10);
        assert_eq!(cine_fps_step(2, -1), 2);
        assert_eq!(cine_fps_step(60, 1), 60);
        assert_eq!(cine_fps_step(12, 1), 20); // 12 is between 10 and 15: from 15 up
    }

    #[test]
    fn key_nine_cycles_through_the_files_windows() {
        let windows = vec![
            FileWindow {
                center: 40.0,
                width: 400.0,
                explanation: "SOFT".into(),
            },
            FileWindow {
                center: -600.0,
                width: 1500.0,
                explanation: "LUNG".into(),
            },
        ];
        let lung = WindowLevel {
            center: -600.0,
            width: 1500.0,
        };
        let soft = WindowLevel {
            center: 40.0,
            width: 400.0,
        };
        assert_eq!(
            next_file_window(
                WindowLevel {
                    center: 1.0,
                    width: 2.0
                },
                &windows
            ),
            Some((0, soft))
        );
        assert_eq!(next_file_window(soft, &windows), Some((1, lung)));
        assert_eq!(next_file_window(lung, &windows), Some((0, soft)));
        assert_eq!(next_file_window(soft, &[]), None);
    }
}
