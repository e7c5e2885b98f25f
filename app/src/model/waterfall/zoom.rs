//! The time window the bars are drawn in: the zoom in the URL, drags across the axis or the
//! minimap, panning, a running trace's growing width, and the minimap's density strip.

use crate::model::SpanOutline;

/// A drag shorter than this (a fraction of the dragged strip) is a click, not a zoom.
const MIN_DRAG: f64 = 0.005;
/// The minimap's slices: how many spans start in each.
const DENSITY_SLICES: usize = 200;

/// The time window the bars are drawn in: the whole trace, or the zoomed range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// Absolute start of the window (unix ns).
    pub from_ns: i64,
    /// Its length (ns, at least 1).
    pub span_ns: i64,
}

impl Scale {
    /// The zoomed window (ns after `origin`), else `0..whole_ns`.
    pub fn of(origin: i64, zoom: Option<(i64, i64)>, whole_ns: i64) -> Self {
        let (from, to) = zoom.unwrap_or((0, whole_ns));
        Scale {
            from_ns: origin + from,
            span_ns: (to - from).max(1),
        }
    }

    /// Where `t` (unix ns) falls, in percent of the window.
    pub fn pct(self, t: i64) -> f64 {
        (t - self.from_ns) as f64 / self.span_ns as f64 * 100.0
    }

    /// The CSS placing a bar from `start_ns` to `end_ns`: never narrower than 0.2% so that the
    /// shortest spans stay visible.
    pub fn bar_style(self, start_ns: i64, end_ns: i64) -> String {
        let left = self.pct(start_ns);
        format!(
            "left: {left:.3}%; width: {:.3}%",
            (self.pct(end_ns) - left).max(0.2)
        )
    }
}

/// `from-to` (ns after the trace's start) from the URL, kept inside the trace.
pub fn parse_zoom(text: &str, width: i64) -> Option<(i64, i64)> {
    let (from, to) = text.split_once('-')?;
    let (from, to): (i64, i64) = (from.parse().ok()?, to.parse().ok()?);
    let (from, to) = (from.clamp(0, width), to.clamp(0, width));
    (to > from).then_some((from, to))
}

/// The URL's `zoom` for a window: none for no window or one covering the whole trace.
pub fn zoom_param(window: Option<(i64, i64)>, width: i64) -> Option<String> {
    window
        .filter(|(from, to)| !(*from <= 0 && *to >= width))
        .map(|(from, to)| format!("{from}-{to}"))
}

/// The whole-trace window's width: while tasks run (`now` is the clock then), it reaches a
/// little past now.
pub fn live_width(width: i64, origin: i64, now: Option<i64>) -> i64 {
    match now {
        Some(now) => width.max((now - origin) * 11 / 10),
        None => width,
    }
}

/// The window a drag from `start` to `end` (fractions of the dragged strip, either order)
/// selects within `base_from..base_from + base_len` (ns after the trace's start); `None` for a
/// click.
pub fn drag_window(start: f64, end: f64, base_from: i64, base_len: i64) -> Option<(i64, i64)> {
    let (low, high) = (start.min(end), start.max(end));
    if high - low < MIN_DRAG {
        return None;
    }
    let from = base_from + (low * base_len as f64) as i64;
    let to = base_from + (high * base_len as f64) as i64;
    Some((from, to.max(from + 1)))
}

/// The window moved by a quarter of its length (`direction` -1 left, 1 right), kept inside the
/// trace; without a zoom, the whole trace (which cannot move).
pub fn panned(zoom: Option<(i64, i64)>, width: i64, direction: i64) -> (i64, i64) {
    let (from, to) = zoom.unwrap_or((0, width));
    let step = (to - from) / 4 * direction;
    let shift = step.clamp(-from, width - to);
    (from + shift, to + shift)
}

/// Where the zoomed window sits on the minimap: left edge and length, in percent.
pub fn minimap_window(zoom: Option<(i64, i64)>, width: i64) -> (f64, f64) {
    let (from, to) = zoom.unwrap_or((0, width));
    let left = from as f64 / width as f64 * 100.0;
    let len = (to - from) as f64 / width as f64 * 100.0;
    (left, len)
}

/// The minimap's density strip as an SVG path over a 1000×24 box: per slice of the trace, a
/// bar as high as the share of spans starting in it (of the busiest slice's).
pub fn density_path(spans: &[SpanOutline], origin: i64, width: i64) -> String {
    let mut buckets = [0_u32; DENSITY_SLICES];
    let last = DENSITY_SLICES - 1;
    for span in spans {
        let at = ((span.start_ns - origin) as f64 / width as f64 * DENSITY_SLICES as f64) as usize;
        buckets[at.min(last)] += 1;
    }
    let peak = f64::from(buckets.iter().copied().max().unwrap_or(1).max(1));
    buckets
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| {
            let h = (f64::from(*n) / peak * 20.0).max(1.0);
            format!("M{}.5,24v-{h:.1}", i * 5)
        })
        .collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_outline;

    #[test]
    fn test_scale_places_times_in_percent_of_the_window() {
        let scale = Scale::of(1_000, Some((100, 300)), 1_000);
        assert_eq!(
            scale,
            Scale {
                from_ns: 1_100,
                span_ns: 200
            }
        );
        assert_eq!(scale.pct(1_100), 0.0);
        assert_eq!(scale.pct(1_200), 50.0);
        assert_eq!(scale.pct(1_300), 100.0);
        // Unzoomed: the whole width; an empty window still divides by at least 1.
        assert_eq!(Scale::of(5, None, 50).span_ns, 50);
        assert_eq!(Scale::of(5, Some((7, 7)), 50).span_ns, 1);
    }

    #[test]
    fn test_bar_style_keeps_short_bars_visible() {
        let scale = Scale::of(0, None, 1_000);
        assert_eq!(scale.bar_style(100, 350), "left: 10.000%; width: 25.000%");
        assert_eq!(scale.bar_style(500, 500), "left: 50.000%; width: 0.200%");
        // A bar ending before it starts (clock skew) is as narrow as the narrowest.
        assert_eq!(scale.bar_style(500, 400), "left: 50.000%; width: 0.200%");
    }

    #[test]
    fn test_zoom_parses_within_the_trace_and_round_trips() {
        assert_eq!(parse_zoom("100-200", 1_000), Some((100, 200)));
        assert_eq!(parse_zoom("500-5000", 1_000), Some((500, 1_000)), "clamped");
        assert_eq!(parse_zoom("200-100", 1_000), None, "backwards");
        assert_eq!(parse_zoom("1000-2000", 1_000), None, "outside: empty");
        assert_eq!(parse_zoom("abc", 1_000), None);
        assert_eq!(parse_zoom("1-x", 1_000), None);
        assert_eq!(
            zoom_param(Some((100, 200)), 1_000).as_deref(),
            Some("100-200")
        );
        let text = zoom_param(Some((100, 200)), 1_000).unwrap_or_default();
        assert_eq!(parse_zoom(&text, 1_000), Some((100, 200)));
        // The whole trace is no zoom.
        assert_eq!(zoom_param(Some((0, 1_000)), 1_000), None);
        assert_eq!(zoom_param(None, 1_000), None);
    }

    #[test]
    fn test_live_width_reaches_past_now_while_running() {
        assert_eq!(live_width(100, 0, None), 100);
        assert_eq!(live_width(100, 0, Some(500)), 550);
        assert_eq!(live_width(100, 50, Some(500)), 495);
        assert_eq!(live_width(1_000, 0, Some(500)), 1_000, "never shrinks");
    }

    #[test]
    fn test_drag_window_selects_the_dragged_range() {
        // Right to left as left to right, inside the current window.
        assert_eq!(drag_window(0.5, 0.25, 1_000, 1_000), Some((1_250, 1_500)));
        assert_eq!(drag_window(0.25, 0.5, 0, 1_000), Some((250, 500)));
        // A click is no zoom.
        assert_eq!(drag_window(0.3, 0.302, 0, 1_000), None);
        // Never empty.
        assert_eq!(drag_window(0.0, 0.01, 0, 10), Some((0, 1)));
    }

    #[test]
    fn test_pan_moves_a_quarter_and_stays_inside() {
        assert_eq!(panned(Some((400, 600)), 1_000, 1), (450, 650));
        assert_eq!(panned(Some((400, 600)), 1_000, -1), (350, 550));
        assert_eq!(
            panned(Some((10, 210)), 1_000, -1),
            (0, 200),
            "stops at the start"
        );
        assert_eq!(
            panned(Some((790, 990)), 1_000, 1),
            (800, 1_000),
            "stops at the end"
        );
        assert_eq!(panned(None, 1_000, 1), (0, 1_000));
    }

    #[test]
    fn test_minimap_window_in_percent() {
        assert_eq!(minimap_window(None, 1_000), (0.0, 100.0));
        assert_eq!(minimap_window(Some((250, 500)), 1_000), (25.0, 25.0));
    }

    #[test]
    fn test_density_counts_starts_per_slice_relative_to_the_busiest() {
        let spans = vec![
            test_outline("a", None, "a", 0, 10),
            test_outline("b", None, "b", 1, 10),
            test_outline("c", None, "c", 999, 1_000),
            // Starting at the very end: the last slice, not past it.
            test_outline("d", None, "d", 1_000, 1_000),
        ];
        assert_eq!(
            density_path(&spans, 0, 1_000),
            "M0.5,24v-20.0M995.5,24v-20.0"
        );
        let one = vec![test_outline("a", None, "a", 500, 600)];
        assert_eq!(density_path(&one, 0, 1_000), "M500.5,24v-20.0");
        assert_eq!(density_path(&[], 0, 1_000), "");
    }
}
