//! The job list's duration scatter: each listed job a dot at its start (across) and duration
//! (up), as Jaeger's search page draws it, so the slow and the odd runs stand out at a glance.

use super::{Job, JobState};

/// One job's dot; `x` and `y` are shares of the plot (0 = left/bottom, 1 = right/top).
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    pub id: String,
    pub name: String,
    pub state: JobState,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub x: f64,
    pub y: f64,
}

/// The dots and the ranges their axes show.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    pub points: Vec<ScatterPoint>,
    pub first_start_ns: i64,
    pub last_start_ns: i64,
    /// The top of the duration axis: the longest listed duration.
    pub max_duration_ns: i64,
}

/// The scatter of `jobs`, or `None` when fewer than two jobs have both a start and an end
/// (one dot says nothing a row does not). A running job is drawn at its duration so far.
pub fn job_scatter(jobs: &[Job]) -> Option<Scatter> {
    let timed: Vec<&Job> = jobs
        .iter()
        .filter(|job| job.start_ns > 0 && job.end_ns > 0)
        .collect();
    if timed.len() < 2 {
        return None;
    }
    let first_start_ns = timed.iter().map(|j| j.start_ns).min().unwrap_or_default();
    let last_start_ns = timed.iter().map(|j| j.start_ns).max().unwrap_or_default();
    let max_duration_ns = timed
        .iter()
        .map(|j| j.duration_ns())
        .max()
        .unwrap_or_default();
    let span = (last_start_ns - first_start_ns) as f64;
    let points = timed
        .into_iter()
        .map(|job| ScatterPoint {
            id: job.id.clone(),
            name: job.name.clone(),
            state: job.state,
            start_ns: job.start_ns,
            duration_ns: job.duration_ns(),
            // All started at once: one column in the middle.
            x: if span > 0.0 {
                (job.start_ns - first_start_ns) as f64 / span
            } else {
                0.5
            },
            y: if max_duration_ns > 0 {
                job.duration_ns() as f64 / max_duration_ns as f64
            } else {
                0.0
            },
        })
        .collect();
    Some(Scatter {
        points,
        first_start_ns,
        last_start_ns,
        max_duration_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, start_ns: i64, end_ns: i64) -> Job {
        Job {
            id: id.to_owned(),
            trace_id: String::new(),
            name: format!("job {id}"),
            state: JobState::Completed,
            start_ns,
            end_ns,
            span_count: 1,
            error_count: 0,
            services: Vec::new(),
            tasks: None,
        }
    }

    #[test]
    fn test_dots_sit_at_their_start_and_duration() {
        let scatter = job_scatter(&[job("a", 100, 150), job("b", 200, 400), job("c", 300, 310)])
            .expect("three timed jobs");
        let at: Vec<(&str, f64, f64)> = scatter
            .points
            .iter()
            .map(|p| (p.id.as_str(), p.x, p.y))
            .collect();
        assert_eq!(
            at,
            vec![("a", 0.0, 0.25), ("b", 0.5, 1.0), ("c", 1.0, 0.05)]
        );
        assert_eq!(
            (
                scatter.first_start_ns,
                scatter.last_start_ns,
                scatter.max_duration_ns
            ),
            (100, 300, 200)
        );
    }

    #[test]
    fn test_untimed_jobs_are_left_out_and_one_dot_is_no_scatter() {
        assert_eq!(job_scatter(&[job("a", 100, 150), job("b", 0, 0)]), None);
        let scatter = job_scatter(&[job("a", 100, 100), job("b", 100, 100), job("c", 0, 5)])
            .expect("two timed jobs");
        // Same start, no duration: a column in the middle, on the floor (no division by zero).
        assert!(scatter.points.iter().all(|p| p.x == 0.5 && p.y == 0.0));
        assert_eq!(scatter.points.len(), 2);
    }
}
