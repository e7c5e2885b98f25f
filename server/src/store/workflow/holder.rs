//! Who may report on a claimed task: the holder of its current attempt, and nobody else.
//!
//! A runner whose lease expired (it froze, its network went away) may wake up after another
//! runner claimed the task again. Its lease extensions, results and failures must not count:
//! the task would run twice and its history would lie. The rule lives here, pure and tested;
//! `tasks.rs` and `claims.rs` apply it under the job's lock.

/// Who reports on a task: the runner's identity and, when its client names it, the attempt
/// the runner believes it holds (the Rust SDK sends both as gRPC metadata; the Python client
/// sends neither and is known by its connection's peer address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    pub runner: String,
    pub attempt: Option<i64>,
}

impl Reporter {
    pub fn new(runner: impl Into<String>, attempt: Option<i64>) -> Self {
        Reporter {
            runner: runner.into(),
            attempt,
        }
    }
}

/// How a report relates to the task's current attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    /// The runner of the current attempt: its report counts.
    Holder,
    /// A runner of an earlier attempt, or a report naming an attempt that is not the current
    /// one: ignored, and told its lease is gone.
    Stale,
    /// A runner the task has never seen (a Python runner whose connection was re-established
    /// has a new peer address): believed, as nothing says it is stale.
    Unknown,
}

impl Standing {
    /// Whether the report may change the task.
    pub(super) fn counts(self) -> bool {
        self != Standing::Stale
    }
}

/// Whether [`standing`] needs to know if the reporter ran an earlier attempt of the task (a
/// read of its attempts): only for a report that names no attempt and comes from another
/// runner than the current attempt's.
pub(super) fn asks_about_earlier_attempts(
    reporter: &Reporter,
    current_runner: Option<&str>,
) -> bool {
    reporter.attempt.is_none() && current_runner != Some(reporter.runner.as_str())
}

/// The rule. `current_attempt` is the task's attempt counter, `current_runner` the runner of
/// that attempt, `ran_earlier` whether the reporter ran one of the task's earlier attempts.
pub(super) fn standing(
    reporter: &Reporter,
    current_attempt: i64,
    current_runner: Option<&str>,
    ran_earlier: bool,
) -> Standing {
    let same_runner = current_runner == Some(reporter.runner.as_str());
    match reporter.attempt {
        Some(attempt) if attempt != current_attempt => Standing::Stale,
        // A named attempt is a fencing token; it must come from the runner it was given to.
        Some(_) if !same_runner => Standing::Stale,
        _ if same_runner => Standing::Holder,
        _ if ran_earlier => Standing::Stale,
        _ => Standing::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_of_the_current_attempt_holds_the_task() {
        let sdk = Reporter::new("host:1:a", Some(2));
        assert_eq!(standing(&sdk, 2, Some("host:1:a"), true), Standing::Holder);
        let python = Reporter::new("127.0.0.1:5000", None);
        assert_eq!(
            standing(&python, 1, Some("127.0.0.1:5000"), false),
            Standing::Holder
        );
    }

    #[test]
    fn a_report_naming_an_earlier_attempt_is_stale() {
        let woke_up = Reporter::new("host:1:a", Some(1));
        assert_eq!(
            standing(&woke_up, 2, Some("host:2:b"), false),
            Standing::Stale
        );
        // Even if the same runner claimed the task again since: the old attempt is over.
        assert_eq!(
            standing(&woke_up, 2, Some("host:1:a"), true),
            Standing::Stale
        );
    }

    #[test]
    fn a_named_attempt_from_another_runner_is_stale() {
        let guess = Reporter::new("host:9:z", Some(2));
        assert_eq!(
            standing(&guess, 2, Some("host:1:a"), false),
            Standing::Stale
        );
    }

    #[test]
    fn a_runner_known_only_from_earlier_attempts_is_stale() {
        let python = Reporter::new("127.0.0.1:5000", None);
        assert_eq!(
            standing(&python, 2, Some("127.0.0.1:6000"), true),
            Standing::Stale
        );
        assert!(!Standing::Stale.counts());
    }

    #[test]
    fn an_unseen_runner_is_believed() {
        let reconnected = Reporter::new("127.0.0.1:7000", None);
        let seen = standing(&reconnected, 1, Some("127.0.0.1:5000"), false);
        assert_eq!(seen, Standing::Unknown);
        assert!(seen.counts());
    }
}
