//! What the job page loads for its trace view on demand, through the server functions: a
//! search's matches in attributes, the selected span's details and its log lines.

use std::sync::Arc;

use leptos::prelude::*;

use crate::api::jobs::{get_span_detail, get_span_logs, search_spans};
use crate::components::{PanelLog, QueryWriter, SpanDetail, SpanLogs, TraceLoads};
use crate::model::waterfall::{PreparedTrace, RemoteHits, SpanQuery};

/// The loads of the trace view of `trace`, whose search is the URL's `q`.
pub fn trace_loads(trace: &Arc<PreparedTrace>, url: QueryWriter) -> TraceLoads {
    // `key=value` terms and text in attribute values need the spans' attributes, which only the
    // server has: it answers them (after hydration; until then, and on the server, names,
    // services, tags and statuses filter alone).
    let search = Memo::new(move |_| url.get("q").unwrap_or_default());
    let attribute_hits = {
        let trace_id = trace.trace_id.clone();
        LocalResource::new(move || {
            let text = search.get();
            let trace_id = trace_id.clone();
            async move {
                if !SpanQuery::parse(&text).needs_server() {
                    return None;
                }
                let hits = search_spans(trace_id, text.clone())
                    .await
                    .map(RemoteHits::from)
                    .map_err(|e| e.to_string());
                Some((text, hits))
            }
        })
    };
    let span_detail = {
        let trace = trace.clone();
        move |index: usize| -> SpanDetail {
            let key = (trace.trace_id.clone(), trace.spans[index].span_id.clone());
            Resource::new(
                move || key.clone(),
                |(trace_id, span_id)| get_span_detail(trace_id, span_id),
            )
        }
    };
    let span_logs = {
        let trace = trace.clone();
        move |ids: Signal<String>| -> SpanLogs {
            let trace = trace.clone();
            Resource::new(
                move || ids.get(),
                move |ids: String| {
                    let trace = trace.clone();
                    async move {
                        if ids.is_empty() {
                            return Ok(Vec::new());
                        }
                        let logs = get_span_logs(trace.trace_id.clone(), ids).await?;
                        Ok(logs
                            .into_iter()
                            .filter_map(|log| {
                                let at = *trace.index_of.get(log.span_id.as_deref()?)?;
                                Some(PanelLog {
                                    span: at,
                                    span_name: trace.spans[at].name.clone(),
                                    log,
                                })
                            })
                            .collect())
                    }
                },
            )
        }
    };
    TraceLoads {
        attribute_hits,
        span_detail: Arc::new(span_detail),
        span_logs: Arc::new(span_logs),
    }
}
