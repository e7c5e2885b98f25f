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

/// Ticks (offsets from the trace start) at round values inside the window
/// `[offset_ns, offset_ns + duration_ns]`, at the step [`axis_ticks`] picks for its length.
pub fn axis_ticks_in(offset_ns: i64, duration_ns: i64, target: usize) -> Vec<i64> {
    let step = axis_ticks(duration_ns, target)
        .get(1)
        .copied()
        .unwrap_or(duration_ns.max(1));
    let first = (offset_ns + step - 1).div_euclid(step) * step;
    (0..)
        .map(|i| first + i * step)
        .take_while(|tick| *tick <= offset_ns + duration_ns)
        .collect()
}

/// A tick's label: the trace's start is plain `0`, the rest their offset (`200 ms`).
pub fn tick_label(tick_ns: i64) -> String {
    if tick_ns == 0 {
        "0".to_owned()
    } else {
        format_duration_ns(tick_ns)
    }
}

/// The axis of a window of the trace: `duration_ns` long, starting `offset_ns` after the
/// trace's start (0 unless zoomed).
#[component]
pub fn TimeAxis(duration_ns: i64, #[prop(optional)] offset_ns: i64) -> impl IntoView {
    let width = duration_ns.max(1) as f64;
    let ticks = axis_ticks_in(offset_ns, duration_ns, 6)
        .into_iter()
        .map(|tick| {
            let pct = (tick - offset_ns) as f64 / width * 100.0;
            let left = format!("left: {pct:.3}%");
            // A label near the right edge ends at its tick instead of running past the axis
            // into the next column.
            let class = if pct > 90.0 {
                "time-axis__tick time-axis__tick--end"
            } else {
                "time-axis__tick"
            };
            view! {
                <span class=class style=left>
                    {tick_label(tick)}
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
    fn test_ticks_of_a_zoomed_window_are_round() {
        // 1.25 s – 2.25 s: steps of 200 ms from the first round one inside.
        let ticks = axis_ticks_in(1_250_000_000, 1_000_000_000, 5);
        assert_eq!(
            ticks,
            vec![
                1_400_000_000,
                1_600_000_000,
                1_800_000_000,
                2_000_000_000,
                2_200_000_000
            ]
        );
    }

    #[test]
    fn test_the_start_is_zero_and_the_rest_carry_units() {
        assert_eq!(tick_label(0), "0");
        assert_eq!(tick_label(200_000_000), format_duration_ns(200_000_000));
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
