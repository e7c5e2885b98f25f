//! Props-only pieces the pages are built from.

mod copy_button;
mod error_notice;
mod failure_banner;
mod job_header;
mod job_scatter;
mod job_table;
mod log_list;
mod log_panel;
mod runner_lanes;
mod sign_out;
mod span_panel;
mod status_badge;
mod task_graph;
mod task_table;
mod theme_toggle;
mod time_axis;
mod time_toggle;
mod trace_view;

pub use copy_button::CopyButton;
pub use error_notice::ErrorNotice;
pub use failure_banner::FailureBanner;
pub use job_header::{JobHeader, JobProgressBars};
pub use job_scatter::JobScatter;
pub use job_table::{JobTable, SortLinks};
pub use log_list::{LogLine, LogList};
pub use log_panel::{LOG_FLOORS, LogFilters, LogPanel, PanelLog};
pub use runner_lanes::RunnerLanes;
pub use sign_out::{SignOut, signed_in};
pub use span_panel::SpanPanel;
pub use status_badge::{JobStateBadge, SpanStatusBadge, TaskStateBadge};
pub use task_graph::TaskGraphView;
pub use task_table::TaskTable;
pub use theme_toggle::{THEME_SCRIPT, ThemeToggle};
pub use time_axis::{TimeAxis, axis_ticks, axis_ticks_in};
pub use time_toggle::{Clock, TimeToggle, provide_clock, use_clock};
pub use trace_view::{QueryWriter, SpanDetail, SpanLogs, TraceLoads, TraceView};
