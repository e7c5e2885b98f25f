//! The runner-lanes view's computations: task spans grouped by runner, and how many ran at once.

use std::collections::HashMap;

use crate::model::{SpanOutline, StatusCode};

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

/// A row of a lane (px): tasks a runner ran at the same time stack in rows of this height.
pub const SLOT_PX: usize = 24;
/// The least height of a lane (px): its label's two lines.
pub const LANE_MIN_PX: usize = 40;
/// Lanes rendered beyond the visible part of the lanes box, above and below it (px).
pub const LANE_OVERSCAN_PX: f64 = 600.0;

/// A lane's height (px, its bottom border included): its rows of tasks, at least its label.
pub fn lane_height(slot_count: usize) -> usize {
    (4 + slot_count * SLOT_PX).max(LANE_MIN_PX) + 1
}

/// Where each lane starts in the lanes box (px), and the box's whole height.
pub fn lane_tops(slot_counts: impl IntoIterator<Item = usize>) -> (Vec<usize>, usize) {
    let mut top = 0;
    let tops = slot_counts
        .into_iter()
        .map(|slots| {
            let at = top;
            top += lane_height(slots);
            at
        })
        .collect();
    (tops, top)
}

/// The lanes to render for the box scrolled to `scroll_top` and `viewport` px high: every lane
/// that overlaps it or the [`LANE_OVERSCAN_PX`] above and below. `tops` as [`lane_tops`] gives.
pub fn lanes_in_view(tops: &[usize], scroll_top: f64, viewport: f64) -> std::ops::Range<usize> {
    let from = (scroll_top - LANE_OVERSCAN_PX).max(0.0);
    let to = scroll_top + viewport + LANE_OVERSCAN_PX;
    // The last lane starting at or above `from` overlaps it; lanes starting before `to` do too.
    let start = tops
        .partition_point(|&top| top as f64 <= from)
        .saturating_sub(1);
    let end = tops.partition_point(|&top| (top as f64) < to);
    start..end.max(start)
}

/// The finest detail the lanes draw: 1/1,000 of the track (about a pixel). Tasks shorter than
/// [`TINY_PARTS`] of these, less than one apart, cannot be told apart and are drawn as one mark,
/// which ends once it is [`RUN_PARTS`] wide (a target a pointer can hit, wider than a bar's
/// 2 px minimum so marks do not overlap): a run of 2,000 tasks over 40 % of the track is 80
/// marks, so where its failures are still shows.
const TRACK_PARTS: i64 = 1000;
const TINY_PARTS: i64 = 2;
const RUN_PARTS: i64 = 5;

/// One mark in a lane's row: a task's bar, or one bar for a run of tasks too short and too close
/// to tell apart at the view's width. Keeps the lanes' DOM at most about 200 marks per row of
/// tiny tasks whatever the job's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneMark {
    /// The row within the lane.
    pub slot: usize,
    /// The span indices it stands for, by start (one: a task's own bar).
    pub spans: Vec<usize>,
    pub start_ns: i64,
    pub end_ns: i64,
    /// The first failed span among them, which a click on a run selects.
    pub failed: Option<usize>,
}

impl LaneMark {
    /// The span a click selects: the run's first failure, else its first task.
    pub fn target(&self) -> usize {
        self.failed.or(self.spans.first().copied()).unwrap_or(0)
    }
}

/// The marks of `lane` on a track `width_ns` wide: each row's tasks by start, runs of tiny
/// close tasks merged; `end_of` gives a span's drawn end (a running attempt's is now).
pub fn lane_marks(
    spans: &[SpanOutline],
    lane: &Lane,
    width_ns: i64,
    end_of: impl Fn(usize) -> i64,
) -> Vec<LaneMark> {
    let part = (width_ns / TRACK_PARTS).max(1);
    let mut marks: Vec<LaneMark> = Vec::new();
    // The open mark of each row: where the next tiny task may join.
    let mut open: Vec<Option<usize>> = vec![None; lane.slot_count.max(1)];
    for (&index, &slot) in lane.spans.iter().zip(&lane.slots) {
        let span = &spans[index];
        let end = end_of(index).max(span.start_ns);
        let tiny = end - span.start_ns < TINY_PARTS * part;
        let failed = span.status_code == StatusCode::Error;
        // Only runs of tiny tasks stay open (a row's open mark is tiny or none).
        let row = open.get_mut(slot);
        let joins = row
            .as_ref()
            .and_then(|open| **open)
            .filter(|&m| tiny && span.start_ns - marks[m].end_ns < part)
            .filter(|&m| marks[m].end_ns - marks[m].start_ns < RUN_PARTS * part);
        match joins {
            Some(m) => {
                let mark = &mut marks[m];
                mark.spans.push(index);
                mark.end_ns = mark.end_ns.max(end);
                if failed && mark.failed.is_none() {
                    mark.failed = Some(index);
                }
            }
            None => {
                marks.push(LaneMark {
                    slot,
                    spans: vec![index],
                    start_ns: span.start_ns,
                    end_ns: end,
                    failed: failed.then_some(index),
                });
                if let Some(row) = row {
                    *row = tiny.then_some(marks.len() - 1);
                }
            }
        }
    }
    marks
}

/// [`concurrency`] steps thinned to at most three per 1/1,000 of `[origin, origin + width_ns]`
/// (the lowest, the highest and the last count in each), what a 1,000-unit-wide curve can show.
pub fn thin_steps(steps: &[(i64, usize)], origin: i64, width_ns: i64) -> Vec<(i64, usize)> {
    /// One part's steps: its lowest, highest and last.
    struct Part {
        key: i64,
        low: (i64, usize),
        high: (i64, usize),
        last: (i64, usize),
    }
    fn flush(out: &mut Vec<(i64, usize)>, part: &Part) {
        let mut picked = [part.low, part.high];
        picked.sort_by_key(|step| step.0);
        for step in picked.into_iter().chain([part.last]) {
            if out.last() != Some(&step) {
                out.push(step);
            }
        }
    }
    let unit = (width_ns / TRACK_PARTS).max(1);
    let mut out: Vec<(i64, usize)> = Vec::new();
    let mut current: Option<Part> = None;
    for &step in steps {
        let key = (step.0 - origin).div_euclid(unit);
        match current.as_mut() {
            Some(part) if part.key == key => {
                if step.1 < part.low.1 {
                    part.low = step;
                }
                if step.1 > part.high.1 {
                    part.high = step;
                }
                part.last = step;
            }
            _ => {
                if let Some(part) = &current {
                    flush(&mut out, part);
                }
                current = Some(Part {
                    key,
                    low: step,
                    high: step,
                    last: step,
                });
            }
        }
    }
    if let Some(part) = &current {
        flush(&mut out, part);
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_the_lanes_near_the_scrolled_window_are_rendered() {
        // 1,000 runners of one row (41 px), one of three rows in the middle.
        let slots = (0..1000).map(|i| if i == 500 { 3 } else { 1 });
        let (tops, total) = lane_tops(slots);
        assert_eq!(lane_height(1), 41);
        assert_eq!(lane_height(3), 77);
        assert_eq!(total, 999 * 41 + 77);
        assert_eq!((tops[1], tops[501]), (41, 500 * 41 + 77));
        // At the top, 900 px high: the lanes down to 1,500 px, 37 of them.
        assert_eq!(lanes_in_view(&tops, 0.0, 900.0), 0..37);
        // Scrolled to the middle: from 600 px above to 600 px below, the tall lane included.
        let middle = lanes_in_view(&tops, 20_000.0, 900.0);
        assert!(middle.contains(&500), "{middle:?}");
        let (first, last) = (middle.start, middle.end - 1);
        assert!(tops[first] as f64 <= 19_400.0 && tops[first + 1] as f64 > 19_400.0);
        assert!((tops[last] as f64) < 21_500.0 && tops[last + 1] as f64 >= 21_500.0);
        // At the bottom, and past it.
        assert_eq!(lanes_in_view(&tops, total as f64 - 900.0, 900.0).end, 1000);
        assert_eq!(lanes_in_view(&tops, 1e9, 900.0), 999..1000);
        assert_eq!(lanes_in_view(&[], 0.0, 900.0), 0..0);
    }

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

    #[test]
    fn test_tiny_close_tasks_merge_into_one_mark_and_others_keep_their_bars() {
        // A track of 10,000 ns: a pixel is 10 ns, "tiny" under 20 ns.
        let mut spans = vec![
            span("task/long", "r1", 0, 1000),
            span("task/t1", "r1", 1000, 1010),
            span("task/t2", "r1", 1010, 1020),
            span("task/t3", "r1", 1025, 1030),
            span("task/gap", "r1", 2000, 2010),
            span("task/wide", "r1", 3000, 4000),
            span("task/w2", "r1", 4000, 5000),
        ];
        spans[2].status_code = StatusCode::Error;
        let lanes = runner_lanes(&spans);
        let marks = lane_marks(&spans, &lanes[0], 10_000, |i| spans[i].end_ns);
        let shape: Vec<(Vec<usize>, i64, i64, Option<usize>)> = marks
            .iter()
            .map(|m| (m.spans.clone(), m.start_ns, m.end_ns, m.failed))
            .collect();
        assert_eq!(
            shape,
            vec![
                (vec![0], 0, 1000, None),
                (vec![1, 2, 3], 1000, 1030, Some(2)),
                (vec![4], 2000, 2010, None),
                (vec![5], 3000, 4000, None),
                (vec![6], 4000, 5000, None),
            ],
            "back-to-back wide tasks keep their own bars"
        );
        assert_eq!(marks[1].target(), 2, "a run's click selects its failure");
        assert_eq!(marks[0].target(), 0);
        // On a track 10x narrower in time (a pixel is 1 ns) every task is wide: a bar each.
        let marks = lane_marks(&spans, &lanes[0], 1000, |i| spans[i].end_ns);
        assert_eq!(marks.len(), spans.len());
    }

    #[test]
    fn test_a_hundred_thousand_tasks_make_at_most_a_few_marks_per_pixel() {
        let spans: Vec<SpanOutline> = (0..100_000)
            .map(|i| span("task/t", &format!("r{}", i % 8), i * 10, i * 10 + 9))
            .collect();
        let lanes = runner_lanes(&spans);
        let marks: Vec<LaneMark> = lanes
            .iter()
            .flat_map(|lane| lane_marks(&spans, lane, 1_000_000, |i| spans[i].end_ns))
            .collect();
        // Back-to-back tasks over the whole track: runs end at 5 pixels, about 200 per runner.
        assert!(
            (8 * 150..=8 * 250).contains(&marks.len()),
            "{} marks",
            marks.len()
        );
        assert!(marks.iter().all(|m| m.end_ns - m.start_ns <= 6 * 1000));
        let covered: usize = marks.iter().map(|m| m.spans.len()).sum();
        assert_eq!(covered, 100_000, "every task is in one mark");
    }

    #[test]
    fn test_thinned_steps_keep_each_parts_lowest_highest_and_last_count() {
        let steps: Vec<(i64, usize)> = vec![(0, 1), (1, 5), (2, 0), (3, 2), (1500, 3), (1600, 0)];
        assert_eq!(
            thin_steps(&steps, 0, 1_000_000),
            vec![(1, 5), (2, 0), (3, 2), (1500, 3), (1600, 0)]
        );
        let few = vec![(0, 1), (5000, 0)];
        assert_eq!(thin_steps(&few, 0, 1_000_000), few);
    }
}
