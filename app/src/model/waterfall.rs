//! The waterfall's computations beyond tree order, pure and wasm-safe: search, runner lanes,
//! the task overlay and critical path, row layout and the virtual window, zoom, dependency
//! edges, the keyboard, and the view's URL form.

mod critical_path;
mod edges;
#[cfg(test)]
pub(crate) mod fixtures;
mod keys;
mod lanes;
mod prepared;
mod search;
mod tasks;
mod url_state;
mod window;
mod zoom;

pub use critical_path::critical_path;
pub use edges::{EDGE_BOX_WIDTH, EdgePath, attempt_rows, edge_curve, edge_paths};
pub use keys::{TreeKey, tree_key};
pub use lanes::{
    LANE_OVERSCAN_PX, Lane, LaneMark, SLOT_PX, concurrency, lane_height, lane_marks, lane_tops,
    lanes_in_view, runner_lanes, thin_steps,
};
pub use prepared::{PreparedTrace, SubtreeLogs};
pub use search::{
    AttributeHits, MAX_ATTRIBUTE_TERMS, MAX_TERM_CHARS, MIN_VALUE_TERM_CHARS, RemoteHits,
    SearchHits, SpanQuery, count_text, current_answer, search_matches, searches_values,
};
pub use tasks::{RowTask, TaskOverlay, neighbour_spans, row_tasks, runner_names, running_attempts};
pub use url_state::{
    ALL_COLLAPSED, TraceLayout, collapsed_ids, graph_direction, id_set_param, is_on, on_param,
    parse_id_set, parse_log_floor, parse_min_ns, toggle_param, toggled,
};
pub use window::{
    FIRST_ROWS, OVERSCAN, ROW_PX, SERVER_ROWS, collapsible_ids, renders_all, reveal_scroll,
    row_top, rows_height, visible_mask, window_range,
};
pub use zoom::{
    Scale, density_path, drag_window, live_width, minimap_window, panned, parse_zoom, zoom_param,
};
