//! How often a live job page may reload its trace.
//!
//! The page reloads the whole trace when the server says the job changed (at most every
//! 500 ms). For a large trace one reload costs the browser a long frame (100,000 spans: about
//! 200 ms of decoding, building the tree and freeing the old one) and the server a read of every
//! span, so reloads back to back would keep the page janky and the server busy. After each
//! reload the page waits [`COST_FACTOR`] times what that reload took (from asking to the first
//! frame painted after it, capped at [`MAX_GAP_MS`]) before the next one: a reload then takes at
//! most about a tenth of the time, whatever the trace's size, and small traces reload as often
//! as before. Changes announced meanwhile are not lost: one reload follows the wait.

/// A reload is followed by a wait this many times as long as the reload took.
pub const COST_FACTOR: f64 = 10.0;
/// The longest wait between reloads, so a huge trace still moves.
pub const MAX_GAP_MS: f64 = 10_000.0;

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

    /// The reload asked for last has been shown, at `now`.
    pub fn end(&mut self, now: f64) {
        if let Some(started) = self.started.take() {
            let cost = (now - started).max(0.0);
            self.ready_at = now + (cost * COST_FACTOR).min(MAX_GAP_MS);
        }
    }

    /// Whether a reload is in flight.
    pub fn busy(&self) -> bool {
        self.started.is_some()
    }

    /// How long to wait from `now` before the next reload may start (0: right away).
    pub fn wait(&self, now: f64) -> f64 {
        (self.ready_at - now).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cheap_reload_leaves_the_next_free_to_start_at_once() {
        let mut pace = RefreshPace::default();
        assert_eq!(pace.wait(0.0), 0.0);
        pace.begin(1_000.0);
        assert!(pace.busy());
        pace.end(1_020.0);
        assert!(!pace.busy());
        // 20 ms of work: 200 ms of rest, less than the server's 500 ms between changes.
        assert_eq!(pace.wait(1_020.0), 200.0);
        assert_eq!(pace.wait(1_520.0), 0.0);
    }

    #[test]
    fn an_expensive_reload_is_followed_by_ten_times_its_cost_capped() {
        let mut pace = RefreshPace::default();
        pace.begin(0.0);
        pace.end(250.0);
        assert_eq!(pace.wait(250.0), 2_500.0);
        assert_eq!(pace.wait(1_250.0), 1_500.0);
        pace.begin(2_750.0);
        pace.end(4_750.0);
        assert_eq!(pace.wait(4_750.0), MAX_GAP_MS);
    }

    #[test]
    fn an_end_without_a_begin_changes_nothing() {
        let mut pace = RefreshPace::default();
        pace.end(5_000.0);
        assert_eq!(pace, RefreshPace::default());
    }
}
