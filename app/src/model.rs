//! Data the server and the browser share: jobs, spans and log records as the dashboard sees them.

mod automation;
mod compare;
mod failure;
mod format;
pub mod graph;
mod job;
mod job_filter;
mod job_tab;
pub mod live_pace;
mod log;
mod scatter;
mod span;
mod task_stats;
mod trace;
mod tree;
pub mod waterfall;

pub use automation::{
    AUTOMATION_JOBS, AutomationJob, AutomationView, CronTriggerView, StorageTriggerView,
};
pub use compare::{
    Change, CompareRow, JobComparison, MIN_REGRESSION_NS, NOISE_SHARE, REGRESSION_FACTOR, Side,
    compare_runs, noise_ns,
};
pub use failure::{Failure, job_failure};
pub use format::{
    TimeMode, escape_markup, format_duration_ns, format_local_ns, format_relative_ns,
    format_time_ns,
};
pub use job::{
    Job, JobListQuery, JobPage, JobProgress, JobState, JobVersion, Stats, TaskAttempt, TaskSummary,
    TaskView,
};
pub use job_filter::{
    JobFilter, JobSort, MAX_FILTER_TEXT, RANGES, StateCount, filled_params, filter_text,
};
pub use job_tab::JobTab;
pub use log::{
    JobLogLines, JobLogQuery, LogMark, LogRecord, MAX_LOG_SEARCH_CHARS, PANEL_LOGS, SEVERITY_BANDS,
    severity_band, severity_name,
};
pub use scatter::{Scatter, ScatterPoint, job_scatter};
#[cfg(test)]
pub(crate) use span::test_outline;
pub use span::{Attributes, Span, SpanEvent, SpanOutline, StatusCode, value_text};
pub use task_stats::{
    DAY_NS, DEFAULT_STAT_DAYS, DayStats, Histogram, MAX_STAT_DAYS, MIN_COMPARED_RUNS, Percentiles,
    RunStats, SLOW_RUNS, SLOWDOWN_FACTOR, SlowRun, Slowdown, StatKind, TaskAnalytics, TaskDayRow,
    TaskDetail, TaskIdentifierStats, TaskStatRow, TaskTotalRow, VersionStats, bucket_of,
    bucket_value, daily_stats, day_of, task_analytics, task_detail, task_overview, window_start,
};
pub use trace::{JobTrace, UNATTACHED_LOGS};
pub use tree::{FOLD_AT, FoldSummary, SpanTree, TreeRow};
pub use waterfall::{
    Lane, LaneMark, MAX_ATTRIBUTE_TERMS, SpanQuery, TaskOverlay, concurrency, critical_path,
    lane_marks, runner_lanes, runner_names, running_attempts, thin_steps,
};
