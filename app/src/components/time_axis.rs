//! The shared time axis above the waterfall: ticks at round offsets from the trace start.

use leptos::prelude::*;

use crate::model::format_duration_ns;

/// Tick offsets (ns from the start) at a 1-2-5 step giving about `target` ticks.
pub fn axis_ticks(duration_ns: i64, target: usize) -> Vec<i64> {
    if duration_ns <= 0 || target == 0 {
        return vec![0];
    }
    let raw = duration_ns as f64 / target as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(raw)
        .max(1.0) as i64;
    (0..)
        .map(|i| i * step)
        .take_while(|tick| *tick <= duration_ns)
        .collect()
}

#[component]
pub fn TimeAxis(duration_ns: i64) -> impl IntoView {
    let width = duration_ns.max(1) as f64;
    let ticks = axis_ticks(duration_ns, 6)
        .into_iter()
        .map(|tick| {
            let left = format!("left: {:.3}%", tick as f64 / width * 100.0);
            view! {
                <span class="time-axis__tick" style=left>
                    {format_duration_ns(tick)}
                </span>
            }
        })
        .collect_view();
    view! { <div class="time-axis">{ticks}</div> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ticks_use_round_steps() {
        assert_eq!(
            axis_ticks(1_000_000_000, 5),
            vec![
                0,
                200_000_000,
                400_000_000,
                600_000_000,
                800_000_000,
                1_000_000_000
            ]
        );
        assert_eq!(axis_ticks(7_000, 6), vec![0, 2_000, 4_000, 6_000]);
    }

    #[test]
    fn test_ticks_of_empty_trace() {
        assert_eq!(axis_ticks(0, 6), vec![0]);
    }

    #[test]
    fn test_tick_count_stays_near_target() {
        for duration in [3, 999, 12_345_678, 987_654_321_000] {
            let count = axis_ticks(duration, 6).len();
            assert!((3..=13).contains(&count), "{duration}: {count} ticks");
        }
    }
}
