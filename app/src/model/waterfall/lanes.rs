//! The runner-lanes view's computations: task spans grouped by runner, and how many ran at once.

use std::collections::HashMap;

use crate::model::SpanOutline;

/// One runner's task executions over time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// `service.instance.id`, else the service name, else "unknown runner".
    pub runner: String,
    pub service: String,
    /// Indices of task spans, by start time.
    pub spans: Vec<usize>,
    /// Per span (as in `spans`): its row within the lane. Tasks the runner ran at the same time
    /// (a runner with several slots) get rows of their own instead of overlapping.
    pub slots: Vec<usize>,
    /// How many rows the lane needs (at least 1).
    pub slot_count: usize,
}

/// Task spans (`task/…`) grouped by the runner that executed them, lanes ordered by their
/// first task's start.
pub fn runner_lanes(spans: &[SpanOutline]) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = Vec::new();
    let mut by_runner: HashMap<String, usize> = HashMap::new();
    let mut tasks: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].name.starts_with("task/"))
        .collect();
    tasks.sort_by_key(|&i| (spans[i].start_ns, spans[i].end_ns));
    for index in tasks {
        let span = &spans[index];
        let service = span.service.clone();
        let runner = Some(span.runner.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| {
                if service.is_empty() {
                    "unknown runner".to_owned()
                } else {
                    service.clone()
                }
            });
        let lane = *by_runner.entry(runner.clone()).or_insert_with(|| {
            lanes.push(Lane {
                runner,
                service,
                spans: Vec::new(),
                slots: Vec::new(),
                slot_count: 1,
            });
            lanes.len() - 1
        });
        lanes[lane].spans.push(index);
    }
    // Spans come by start time: each takes the first row free again by its start.
    for lane in &mut lanes {
        let mut free_at: Vec<i64> = Vec::new();
        for &index in &lane.spans {
            let span = &spans[index];
            let slot = match free_at.iter().position(|&end| end <= span.start_ns) {
                Some(slot) => slot,
                None => {
                    free_at.push(i64::MIN);
                    free_at.len() - 1
                }
            };
            free_at[slot] = span.end_ns.max(span.start_ns);
            lane.slots.push(slot);
        }
        lane.slot_count = free_at.len().max(1);
    }
    lanes
}

/// How many of `spans[indices]` ran at each moment: `(time, count)` steps, the count holding
/// from its time to the next step's; ends at 0.
pub fn concurrency(spans: &[SpanOutline], indices: &[usize]) -> Vec<(i64, usize)> {
    let mut edges: Vec<(i64, i32)> = Vec::with_capacity(indices.len() * 2);
    for &index in indices {
        let span = &spans[index];
        if span.end_ns > span.start_ns {
            edges.push((span.start_ns, 1));
            edges.push((span.end_ns, -1));
        }
    }
    // Ends before starts at the same instant: back-to-back tasks are not concurrent.
    edges.sort_unstable();
    let mut steps: Vec<(i64, usize)> = Vec::new();
    let mut running: i32 = 0;
    for (time, delta) in edges {
        running += delta;
        let count = usize::try_from(running).unwrap_or(0);
        match steps.last_mut() {
            Some(last) if last.0 == time => last.1 = count,
            _ => steps.push((time, count)),
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::waterfall::fixtures::span;

    #[test]
    fn test_lanes_group_task_spans_by_runner() {
        let spans = vec![
            span("job/x", "", 0, 100),
            span("task/B", "r2", 20, 40),
            span("task/A", "r1", 10, 30),
            span("task/C", "r1", 35, 50),
            span("custom", "r1", 12, 14),
            span("task/D", "", 60, 70),
            span("task/E", "r1", 15, 33),
        ];
        let lanes = runner_lanes(&spans);
        let shape: Vec<(&str, Vec<usize>, Vec<usize>)> = lanes
            .iter()
            .map(|l| (l.runner.as_str(), l.spans.clone(), l.slots.clone()))
            .collect();
        // E overlaps A on r1: a second row; C starts after both ended: back to the first.
        assert_eq!(
            shape,
            vec![
                ("r1", vec![2, 6, 3], vec![0, 1, 0]),
                ("r2", vec![1], vec![0]),
                ("svc", vec![5], vec![0])
            ]
        );
        assert_eq!(lanes[0].slot_count, 2);
        assert_eq!(lanes[1].slot_count, 1);
    }

    #[test]
    fn test_concurrency_counts_overlaps_and_not_back_to_back() {
        let spans = vec![
            span("task/A", "r1", 0, 10),
            span("task/B", "r2", 5, 15),
            span("task/C", "r1", 10, 20),
        ];
        let steps = concurrency(&spans, &[0, 1, 2]);
        assert_eq!(steps, vec![(0, 1), (5, 2), (10, 2), (15, 1), (20, 0)]);
    }
}
