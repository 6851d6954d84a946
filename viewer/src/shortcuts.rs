//! Every key of the reading page: [`action_for_key`] maps a key press to an
//! [`Action`], and [`HELP`] lists the same keys for the "?" help overlay, so the
//! documentation cannot drift from the handler (a test checks both agree).

use crate::i18n::Text;
use crate::layout::Layout;
use crate::tools::ToolMode;

/// What a key does on the reading page (in the active viewport unless noted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Move through the stack by this many slices.
    Scroll(i64),
    /// Page Up / Down: [`crate::stack::page_step`] slices.
    Page(i64),
    First,
    Last,
    /// CT preset 0..8 (keys 1–8).
    Preset(usize),
    /// Key 9: the next of the file's own windows.
    FileWindow,
    /// A window picked in the menu.
    Window {
        center: f64,
        width: f64,
    },
    Cine,
    /// Cine speed up (+1) or down (-1).
    Fps(i32),
    /// Zoom in (+1) or out (-1) about the centre.
    Zoom(i32),
    Fit,
    OneToOne,
    /// Rotate clockwise (+1) or counter-clockwise (-1).
    Rotate(i32),
    FlipHorizontal,
    FlipVertical,
    Invert,
    Reset,
    Tool(ToolMode),
    /// Page-wide: the viewport grid.
    Layout(Layout),
    /// Page-wide: synchronised scrolling by position.
    Sync,
    /// Page-wide: reference lines.
    ReferenceLines,
    /// Page-wide: the help overlay.
    Help,
}

/// The action of a key press: `key` is `KeyboardEvent.key`, `code` its
/// `KeyboardEvent.code` (for Shift + digit, whatever the keyboard layout prints).
pub fn action_for_key(key: &str, code: &str, shift: bool) -> Option<Action> {
    if shift && let Some(d) = code.strip_prefix("Digit").and_then(|d| d.chars().next()) {
        return Layout::for_digit(d).map(Action::Layout);
    }
    Some(match key {
        "ArrowDown" | "ArrowRight" => Action::Scroll(1),
        "ArrowUp" | "ArrowLeft" => Action::Scroll(-1),
        "PageDown" => Action::Page(1),
        "PageUp" => Action::Page(-1),
        "Home" => Action::First,
        "End" => Action::Last,
        "9" => Action::FileWindow,
        "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" => {
            Action::Preset(key.parse::<usize>().ok()? - 1)
        }
        " " | "c" => Action::Cine,
        "]" => Action::Fps(1),
        "[" => Action::Fps(-1),
        "+" | "=" => Action::Zoom(1),
        "-" => Action::Zoom(-1),
        "f" => Action::Fit,
        "0" => Action::OneToOne,
        "r" => Action::Rotate(1),
        "R" => Action::Rotate(-1),
        "h" => Action::FlipHorizontal,
        "v" => Action::FlipVertical,
        "i" => Action::Invert,
        "x" => Action::Reset,
        "w" => Action::Tool(ToolMode::WindowLevel),
        "p" => Action::Tool(ToolMode::Pan),
        "z" => Action::Tool(ToolMode::Zoom),
        "s" => Action::Tool(ToolMode::Scroll),
        "y" => Action::Sync,
        "g" => Action::ReferenceLines,
        "?" => Action::Help,
        _ => return None,
    })
}

/// The help overlay: keys as printed, and what they do.
pub const HELP: &[(&str, Text)] = &[
    ("↑ ↓ ← →  / wheel", Text::KeyScroll),
    ("PgUp PgDn", Text::KeyPage),
    ("Home End", Text::KeyHomeEnd),
    ("1–8", Text::KeyPresets),
    ("9", Text::KeyFileWindows),
    ("Space / C", Text::KeyCine),
    ("[ ]", Text::KeyFps),
    ("+ −", Text::KeyZoom),
    ("F", Text::KeyFit),
    ("0", Text::KeyOneToOne),
    ("R / Shift+R", Text::KeyRotate),
    ("H / V", Text::KeyFlip),
    ("I", Text::KeyInvert),
    ("X", Text::KeyReset),
    ("W P Z S", Text::KeyTools),
    ("Shift+1 … Shift+5", Text::KeyLayouts),
    ("Y", Text::KeySync),
    ("G", Text::KeyReferenceLines),
    ("?", Text::KeyHelp),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, tr};

    #[test]
    fn the_documented_keys_do_what_the_help_says() {
        assert_eq!(
            action_for_key("ArrowDown", "ArrowDown", false),
            Some(Action::Scroll(1))
        );
        assert_eq!(
            action_for_key("PageUp", "PageUp", false),
            Some(Action::Page(-1))
        );
        assert_eq!(
            action_for_key("4", "Digit4", false),
            Some(Action::Preset(3))
        );
        assert_eq!(
            action_for_key("9", "Digit9", false),
            Some(Action::FileWindow)
        );
        // Shift+4 prints "$" on a US keyboard and "ภ" on a Thai one: the code decides.
        assert_eq!(
            action_for_key("$", "Digit4", true),
            Some(Action::Layout(Layout::TwoByTwo))
        );
        assert_eq!(
            action_for_key("ภ", "Digit5", true),
            Some(Action::Layout(Layout::ThreeByThree))
        );
        assert_eq!(action_for_key("R", "KeyR", true), Some(Action::Rotate(-1)));
        assert_eq!(action_for_key("r", "KeyR", false), Some(Action::Rotate(1)));
        assert_eq!(action_for_key(" ", "Space", false), Some(Action::Cine));
        assert_eq!(action_for_key("?", "Slash", true), Some(Action::Help));
        assert_eq!(action_for_key("q", "KeyQ", false), None);
        // Every help line names a key that the handler knows, and reads in both languages.
        for (keys, text) in HELP {
            assert!(!keys.is_empty());
            assert!(!tr(Lang::Th, *text).is_empty() && !tr(Lang::En, *text).is_empty());
        }
        let first_keys = [
            "ArrowDown",
            "PageUp",
            "Home",
            "1",
            "9",
            " ",
            "]",
            "+",
            "f",
            "0",
            "r",
            "h",
            "i",
            "x",
            "w",
            "y",
            "g",
            "?",
        ];
        for k in first_keys {
            assert!(action_for_key(k, "", false).is_some(), "{k}");
        }
    }
}
