//! Viewport layouts of the reading page (1×1, 1×2, 2×1, 2×2, 3×3: rows × columns),
//! and which viewport a series goes to.

/// A grid of viewports, rows × columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    #[default]
    One,
    /// One row, two columns (side by side).
    OneByTwo,
    /// Two rows, one column (one above the other).
    TwoByOne,
    TwoByTwo,
    ThreeByThree,
}

/// Most viewports any layout shows.
pub const MAX_VIEWPORTS: usize = 9;

impl Layout {
    pub const ALL: [Layout; 5] = [
        Layout::One,
        Layout::OneByTwo,
        Layout::TwoByOne,
        Layout::TwoByTwo,
        Layout::ThreeByThree,
    ];

    /// (rows, columns).
    pub fn grid(self) -> (usize, usize) {
        match self {
            Layout::One => (1, 1),
            Layout::OneByTwo => (1, 2),
            Layout::TwoByOne => (2, 1),
            Layout::TwoByTwo => (2, 2),
            Layout::ThreeByThree => (3, 3),
        }
    }

    pub fn count(self) -> usize {
        let (r, c) = self.grid();
        r * c
    }

    /// "2x2", for buttons and `data-layout`.
    pub fn code(self) -> String {
        let (r, c) = self.grid();
        format!("{r}x{c}")
    }

    /// The layout on Shift + digit (`1`–`5`, in the order of [`Layout::ALL`]).
    pub fn for_digit(digit: char) -> Option<Layout> {
        let n = digit.to_digit(10)? as usize;
        (1..=Layout::ALL.len())
            .contains(&n)
            .then(|| Layout::ALL[n - 1])
    }

    /// The active viewport after switching to this layout: kept when still shown.
    pub fn clamp_active(self, active: usize) -> usize {
        if active < self.count() { active } else { 0 }
    }
}

/// Series for each of `count` viewports when a study opens or the grid grows: the
/// hanging series in the first, then the study's other series in list order; the
/// viewports beyond the study's series stay empty (a series is dropped into them).
pub fn initial_assignment(
    first: Option<usize>,
    series_count: usize,
    count: usize,
) -> Vec<Option<usize>> {
    let mut out = vec![None; count];
    let Some(first) = first.filter(|&f| f < series_count) else {
        return out;
    };
    let order = std::iter::once(first).chain((0..series_count).filter(|&i| i != first));
    for (slot, series) in out.iter_mut().zip(order) {
        *slot = Some(series);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_are_rows_by_columns() {
        assert_eq!(Layout::OneByTwo.grid(), (1, 2));
        assert_eq!(Layout::TwoByOne.grid(), (2, 1));
        assert_eq!(Layout::ThreeByThree.count(), MAX_VIEWPORTS);
        assert_eq!(Layout::TwoByTwo.code(), "2x2");
        let counts: Vec<usize> = Layout::ALL.iter().map(|l| l.count()).collect();
        assert_eq!(counts, vec![1, 2, 2, 4, 9]);
    }

    #[test]
    fn digits_pick_layouts_and_the_active_viewport_survives_when_shown() {
        assert_eq!(Layout::for_digit('1'), Some(Layout::One));
        assert_eq!(Layout::for_digit('4'), Some(Layout::TwoByTwo));
        assert_eq!(Layout::for_digit('5'), Some(Layout::ThreeByThree));
        assert_eq!(Layout::for_digit('6'), None);
        assert_eq!(Layout::for_digit('0'), None);
        assert_eq!(Layout::TwoByTwo.clamp_active(3), 3);
        assert_eq!(Layout::OneByTwo.clamp_active(3), 0);
    }

    #[test]
    fn series_fill_the_viewports_hanging_series_first_then_leave_the_rest_empty() {
        assert_eq!(
            initial_assignment(Some(1), 3, 4),
            vec![Some(1), Some(0), Some(2), None]
        );
        assert_eq!(initial_assignment(Some(0), 1, 2), vec![Some(0), None]);
        assert_eq!(initial_assignment(None, 3, 2), vec![None, None]);
        assert_eq!(initial_assignment(Some(5), 3, 1), vec![None]);
    }
}
