//! The mouse/touch tool of the reading page ([`ToolMode`]): what a primary-button drag
//! (or a one-finger drag on touch) does in a viewport. Shared by the viewport's own
//! interactions (window/level, pan, zoom, scroll) and the measurement overlay
//! (probe, length, angle, Cobb, ellipse, rectangle), so both read one signal.

/// What a primary drag does in a viewport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ToolMode {
    /// Drag right widens, drag down raises the level.
    #[default]
    WindowLevel,
    /// Drag moves the image.
    Pan,
    /// Drag up zooms in, down zooms out.
    Zoom,
    /// Drag up/down moves through the stack.
    Scroll,
    /// Pixel probe: stored and modality value under the pointer.
    Probe,
    /// Measurements (drawn by the measurement overlay).
    Length,
    Angle,
    Cobb,
    Ellipse,
    Rectangle,
}

impl ToolMode {
    pub const ALL: [ToolMode; 10] = [
        ToolMode::WindowLevel,
        ToolMode::Pan,
        ToolMode::Zoom,
        ToolMode::Scroll,
        ToolMode::Probe,
        ToolMode::Length,
        ToolMode::Angle,
        ToolMode::Cobb,
        ToolMode::Ellipse,
        ToolMode::Rectangle,
    ];

    /// The viewport's own navigation tools (the rest belong to the measurement overlay).
    pub fn is_navigation(self) -> bool {
        matches!(
            self,
            ToolMode::WindowLevel | ToolMode::Pan | ToolMode::Zoom | ToolMode::Scroll
        )
    }

    /// A stable name for `data-tool` attributes and tests.
    pub fn code(self) -> &'static str {
        match self {
            ToolMode::WindowLevel => "wl",
            ToolMode::Pan => "pan",
            ToolMode::Zoom => "zoom",
            ToolMode::Scroll => "scroll",
            ToolMode::Probe => "probe",
            ToolMode::Length => "length",
            ToolMode::Angle => "angle",
            ToolMode::Cobb => "cobb",
            ToolMode::Ellipse => "ellipse",
            ToolMode::Rectangle => "rectangle",
        }
    }

    pub fn from_code(code: &str) -> Option<ToolMode> {
        ToolMode::ALL.into_iter().find(|t| t.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_only_four_tools_navigate() {
        for t in ToolMode::ALL {
            assert_eq!(ToolMode::from_code(t.code()), Some(t));
        }
        assert_eq!(ToolMode::from_code("nope"), None);
        assert_eq!(
            ToolMode::ALL.iter().filter(|t| t.is_navigation()).count(),
            4
        );
        assert_eq!(ToolMode::default(), ToolMode::WindowLevel);
    }
}
