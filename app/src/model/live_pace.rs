//! How often a live job page may reload its trace.
//!
//! The page reloads the whole trace when the server says the job changed (at most every
//! 500 ms). For a large trace one reload costs the browser a long frame (100,000 spans: about
//! 200 ms of decoding, building the tree and freeing the old one), so reloads back to back would
//! keep the page janky. After each reload the page waits [`COST_FACTOR`] times what the reload
//! cost the page (from its data arriving to the first frame painted after it) plus
//! [`FETCH_FACTOR`] times how long the answer took to come (the server's read, the network and
//! the decoding, which also runs on the page), capped at [`MAX_GAP_MS`]: reloading then takes
//! about a tenth of the page's time at most whatever the trace's size, the server is not asked
//! again right after a slow answer, and a small trace, or one behind a slow network, still
//! updates about every second or faster. Changes announced meanwhile are not lost: one reload
//! follows the wait. A reload whose answer never comes is given up after [`STALL_MS`], so the
//! next change asks again.

/// A reload is followed by a wait this many times as long as it kept the page busy…
pub const COST_FACTOR: f64 = 10.0;
/// …plus this many times as long as its answer took to come.
pub const FETCH_FACTOR: f64 = 2.0;
/// The longest wait between reloads, so a huge trace still moves (and a clock that jumped
/// cannot hold the page longer).
pub const MAX_GAP_MS: f64 = 10_000.0;
/// A reload not answered within this long is given up.
pub const STALL_MS: f64 = 30_000.0;

/// The reload schedule of one live page (times in milliseconds of one clock).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshPace {
    /// When the reload in flight was asked for.
    started: Option<f64>,
    /// When the next reload may start.
    ready_at: f64,
}

impl RefreshPace {
    /// A reload was asked for at `now`.
    pub fn begin(&mut self, now: f64) {
        self.started = Some(now);
    }

    /// The reload asked for last arrived at `arrived` and was shown by `shown`.
    pub fn end(&mut self, arrived: f64, shown: f64) {
        if let Some(started) = self.started.take() {
            let fetch = (arrived - started).max(0.0);
            let cost = (shown - arrived).max(0.0);
            self.ready_at = shown + (cost * COST_FACTOR + fetch * FETCH_FACTOR).min(MAX_GAP_MS);
        }
    }

    /// Whether a reload is in flight (asked for less than [`STALL_MS`] before `now`).
    pub fn busy(&self, now: f64) -> bool {
        self.started.is_some_and(|started| now - started < STALL_MS)
    }

    /// How long to wait from `now` before the next reload may start (0: right away).
    pub fn wait(&self, now: f64) -> f64 {
        (self.ready_at - now).clamp(0.0, MAX_GAP_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cheap_reload_leaves_the_next_free_to_start_soon() {
        let mut pace = RefreshPace::default();
        assert_eq!(pace.wait(0.0), 0.0);
        pace.begin(1_000.0);
        assert!(pace.busy(1_000.0));
        // 30 ms for the answer, 20 ms of the page's time: 260 ms of rest, less than the
        // server's 500 ms between changes.
        pace.end(1_030.0, 1_050.0);
        assert!(!pace.busy(1_050.0));
        assert_eq!(pace.wait(1_050.0), 260.0);
        assert_eq!(pace.wait(1_550.0), 0.0);
        // Behind 300 ms of network: 800 ms, not ten times the round trip.
        pace.begin(2_000.0);
        pace.end(2_300.0, 2_320.0);
        assert_eq!(pace.wait(2_320.0), 800.0);
    }

    #[test]
    fn an_expensive_reload_is_followed_by_ten_times_its_cost_capped() {
        let mut pace = RefreshPace::default();
        // 100,000 spans: 400 ms for the answer, 150 ms to show it.
        pace.begin(0.0);
        pace.end(400.0, 550.0);
        assert_eq!(pace.wait(550.0), 2_300.0);
        assert_eq!(pace.wait(1_550.0), 1_300.0);
        pace.begin(2_250.0);
        pace.end(2_300.0, 4_300.0);
        assert_eq!(pace.wait(4_300.0), MAX_GAP_MS);
        // A clock set back an hour does not hold the page for an hour.
        assert_eq!(pace.wait(4_300.0 - 3_600_000.0), MAX_GAP_MS);
    }

    #[test]
    fn an_end_without_a_begin_changes_nothing() {
        let mut pace = RefreshPace::default();
        pace.end(5_000.0, 5_100.0);
        assert_eq!(pace, RefreshPace::default());
    }

    #[test]
    fn a_reload_never_answered_stops_counting_as_busy() {
        let mut pace = RefreshPace::default();
        pace.begin(0.0);
        assert!(pace.busy(STALL_MS - 1.0));
        assert!(!pace.busy(STALL_MS));
        // Its late answer, or the next reload's, ends it as usual.
        pace.begin(STALL_MS);
        pace.end(STALL_MS + 10.0, STALL_MS + 20.0);
        assert!(!pace.busy(STALL_MS + 20.0));
        assert_eq!(pace.wait(STALL_MS + 20.0), 120.0);
    }
}
