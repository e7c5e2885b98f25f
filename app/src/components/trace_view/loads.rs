//! What the trace view needs from the server beyond the skeleton; its page makes the resources.

use std::sync::Arc;

use leptos::prelude::*;

use crate::components::PanelLog;
use crate::error::AppError;
use crate::model::Span;
use crate::model::waterfall::AttributeHits;

/// A span's attributes, events and resource as they load.
pub type SpanDetail = Resource<Result<Span, AppError>>;
/// Log lines with their spans as they load.
pub type SpanLogs = Resource<Result<Vec<PanelLog>, AppError>>;

/// The trace view's loads, made by its page.
#[derive(Clone)]
pub struct TraceLoads {
    /// The server's answer to the search's `key=value` and text terms (`None`: the search asks
    /// nothing), with the search text it answers. Loaded in the browser only.
    pub attribute_hits: LocalResource<Option<AttributeHits>>,
    /// Starts loading the details of the span at this index (a stored span, not a stand-in).
    pub span_detail: Arc<dyn Fn(usize) -> SpanDetail + Send + Sync>,
    /// Loads the log lines of the spans the signal names (ids, `.`-separated; none when
    /// empty), again whenever it changes.
    pub span_logs: Arc<dyn Fn(Signal<String>) -> SpanLogs + Send + Sync>,
}
