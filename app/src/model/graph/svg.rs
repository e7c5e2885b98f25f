//! A laid-out [`TaskGraph`] as one SVG document: what `VisualizeJob` answers (shown by the
//! Python client in a notebook, so colours are attributes and nothing styles the page around
//! it) and what the dashboard's Graph view puts in the page (its CSS overrides the colours
//! through the class names). Every text is escaped: task labels are whatever a task set.

use std::fmt::Write;

use super::TaskGraph;
use crate::model::escape_markup;

/// Light or dark colours (`WORKFLOW_DIAGRAM_THEME_*`: the console variants are the same two).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

struct Palette {
    background: &'static str,
    text: &'static str,
    muted: &'static str,
    edge: &'static str,
    container: &'static str,
}

impl Theme {
    fn palette(self) -> Palette {
        match self {
            Theme::Light => Palette {
                background: "#ffffff",
                text: "#1f2328",
                muted: "#59636e",
                edge: "#6e7781",
                container: "#f6f8fa",
            },
            Theme::Dark => Palette {
                background: "#0d1117",
                text: "#e6edf3",
                muted: "#9198a1",
                edge: "#8b949e",
                container: "#161b22",
            },
        }
    }

    /// (fill, stroke) of a box in `state`.
    fn state_colours(self, state: &str) -> (&'static str, &'static str) {
        let dark = self == Theme::Dark;
        match (state, dark) {
            ("computed", false) => ("#e6f4ea", "#2da44e"),
            ("computed", true) => ("#12261a", "#3fb950"),
            ("failed", false) => ("#fdecea", "#cf222e"),
            ("failed", true) => ("#2d1214", "#f85149"),
            ("running", false) => ("#e7f0fd", "#0969da"),
            ("running", true) => ("#0f1f36", "#4493f8"),
            ("failed-optional", false) => ("#fff4e0", "#bf8700"),
            ("failed-optional", true) => ("#2b2111", "#d29922"),
            ("skipped", false) => ("#f6f8fa", "#afb8c1"),
            ("skipped", true) => ("#161b22", "#484f58"),
            (_, false) => ("#f6f8fa", "#8c959f"),
            (_, true) => ("#161b22", "#6e7681"),
        }
    }
}

/// The SVG of `graph`; `selected` (a node index) is outlined.
pub fn graph_svg(graph: &TaskGraph, theme: Theme, selected: Option<usize>) -> String {
    let palette = theme.palette();
    let (width, height) = (graph.width.ceil().max(1.0), graph.height.ceil().max(1.0));
    let mut svg = String::with_capacity(512 + graph.nodes.len() * 420 + graph.edges.len() * 90);
    let tasks = graph.task_count;
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="graph__svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" role="img" aria-label="Task graph of {tasks} task{s}">"#,
        s = if tasks == 1 { "" } else { "s" },
    );
    let _ = write!(
        svg,
        r#"<defs><marker id="jt-graph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{edge}"/></marker></defs><rect class="graph__background" width="{width}" height="{height}" fill="{background}"/>"#,
        edge = palette.edge,
        background = palette.background,
    );
    if let Some(title) = &graph.title {
        let first_y = graph.nodes.iter().map(|n| n.y).fold(height, f64::min);
        let left = graph.nodes.iter().map(|n| n.x).fold(width, f64::min);
        let _ = write!(
            svg,
            r#"<text class="graph__title" x="{left:.1}" y="{:.1}" font-size="15" font-weight="600" fill="{}">{}</text>"#,
            (first_y - 10.0).max(15.0),
            palette.text,
            escape_markup(title),
        );
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        let (fill, stroke) = theme.state_colours(node.state);
        let fill = if node.container {
            palette.container
        } else {
            fill
        };
        let mut class = format!("graph__node graph__node--{}", node.state);
        if node.container {
            class.push_str(" graph__node--container");
        }
        if node.overflow {
            class.push_str(" graph__node--more");
        }
        let is_selected = selected == Some(index);
        if is_selected {
            class.push_str(" graph__node--selected");
        }
        let dash = if node.overflow || node.state == "skipped" {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        let stroke_width = if is_selected { 3.0 } else { 1.5 };
        let _ = write!(
            svg,
            r#"<g class="{class}" data-node="{index}" tabindex="0"><title>{}</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"{dash}/><text class="graph__label" x="{:.1}" y="{:.1}" font-size="13" font-weight="600" fill="{}">{}</text><text class="graph__detail" x="{:.1}" y="{:.1}" font-size="11" fill="{}">{}</text></g>"#,
            escape_markup(&node.title),
            node.x,
            node.y,
            node.width,
            node.height,
            node.x + 12.0,
            node.y + 19.0,
            palette.text,
            escape_markup(&node.label),
            node.x + 12.0,
            node.y + 35.0,
            palette.muted,
            escape_markup(&node.detail),
        );
    }
    for edge in &graph.edges {
        let _ = write!(
            svg,
            r#"<path class="graph__edge" d="{}" fill="none" stroke="{}" stroke-width="1.5" marker-end="url(#jt-graph-arrow)" data-from="{}" data-to="{}"/>"#,
            edge.path, palette.edge, edge.from, edge.to,
        );
    }
    svg.push_str("</svg>");
    svg
}
