//! Which windows hold an instant, found by binary search.

use crate::runfolder::StageWindow;

/// Windows by start, to find the ones holding an instant in O(log n) (they
/// seldom overlap; when they do, each holding one is still found).
#[derive(Debug, Clone, Default)]
pub struct WindowIndex {
    /// `(start, end, window index)`, sorted by start.
    spans: Vec<(u64, u64, usize)>,
    /// The latest end among `spans[..=i]`.
    reach: Vec<u64>,
}

impl WindowIndex {
    /// The index of `windows`.
    pub fn new(windows: &[StageWindow]) -> WindowIndex {
        let mut spans: Vec<_> = windows
            .iter()
            .enumerate()
            .map(|(i, w)| (w.start_ms, w.end_ms, i))
            .collect();
        spans.sort_unstable();
        let mut reach = Vec::with_capacity(spans.len());
        let mut furthest = 0;
        for s in &spans {
            furthest = furthest.max(s.1);
            reach.push(furthest);
        }
        WindowIndex { spans, reach }
    }

    /// The windows holding `t` (`start <= t < end`), in no particular order.
    pub fn holding(&self, t: u64) -> impl Iterator<Item = usize> + '_ {
        let after = self.spans.partition_point(|s| s.0 <= t);
        (0..after)
            .rev()
            .take_while(move |&i| self.reach[i] > t)
            .filter(move |&i| self.spans[i].1 > t)
            .map(move |i| self.spans[i].2)
    }
}
