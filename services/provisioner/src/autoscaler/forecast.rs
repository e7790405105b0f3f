//! The short-term forecast behind the queue-driven buffer: the most demand
//! seen within a trailing window. A burst's first jobs show how big it is;
//! keeping room for that peak for the window lets its later jobs find warm
//! nodes, and the room goes once the queue has been quiet that long. The
//! node simulator and the live placeholder pods use this same rule.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct RecentPeak {
    window_secs: f64,
    /// (time, demand) of each observation within the window, oldest first.
    recent: VecDeque<(f64, u32)>,
}

impl RecentPeak {
    pub fn new(window_secs: f64) -> Self {
        RecentPeak { window_secs, recent: VecDeque::new() }
    }

    /// Records `demand` at `now` (seconds on any clock that does not go
    /// back) and answers the peak of the window ending now.
    pub fn observe(&mut self, now: f64, demand: u32) -> u32 {
        self.recent.push_back((now, demand));
        while self.recent.front().is_some_and(|(at, _)| *at < now - self.window_secs) {
            self.recent.pop_front();
        }
        self.recent.iter().map(|(_, demand)| *demand).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_remembered_for_the_window_and_then_forgotten() {
        let mut peak = RecentPeak::new(300.0);
        assert_eq!(peak.observe(0.0, 8), 8);
        assert_eq!(peak.observe(60.0, 2), 8, "the burst's size is kept");
        assert_eq!(peak.observe(299.0, 0), 8);
        assert_eq!(peak.observe(301.0, 0), 2, "the 8 left the window");
        assert_eq!(peak.observe(400.0, 0), 0, "quiet for a window: nothing kept");
    }
}
