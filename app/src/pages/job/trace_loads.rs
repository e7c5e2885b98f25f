//! What the job page loads for its trace view on demand, through the server functions: a
//! search's matches in attributes, the selected span's details and its log lines.

use std::sync::Arc;

use leptos::prelude::*;

use crate::api::jobs::{get_span_detail, get_span_logs, search_spans};
use crate::components::{PanelLog, QueryWriter, SpanDetail, SpanLogs, TraceLoads};
use crate::model::waterfall::{AttributeHits, PreparedTrace, RemoteHits, SpanQuery};

/// The loads of the trace view of `trace`, whose search is the URL's `q`.
pub fn trace_loads(trace: &Arc<PreparedTrace>, url: QueryWriter) -> TraceLoads {
    // `key=value` terms and text in attribute values need the spans' attributes, which only the
    // server has: it answers them (after hydration; until then, and on the server, names,
    // services, tags and statuses filter alone).
    let search = Memo::new(move |_| url.get("q").unwrap_or_default());
    //
    // A signal set by each answer rather than a resource: an answer is kept only while its text
    // is still the search (a slower answer to an older text never replaces a newer one), and
    // the first answer after hydration reaches the view (a `LocalResource` read through the
    // view's memo left the first search "searching…" although its answer had come).
    let attribute_hits = RwSignal::new(None::<AttributeHits>);
    {
        let trace_id = trace.trace_id.clone();
        Effect::new(move |_| {
            let text = search.get();
            if !SpanQuery::parse(&text).needs_server() {
                return;
            }
            let trace_id = trace_id.clone();
            leptos::task::spawn_local(async move {
                let hits = search_spans(trace_id, text.clone())
                    .await
                    .map(RemoteHits::from)
                    .map_err(|e| e.to_string());
                if search.get_untracked() == text {
                    attribute_hits.set(Some((text, hits)));
                }
            });
        });
    }
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
        attribute_hits: attribute_hits.read_only().into(),
        span_detail: Arc::new(span_detail),
        span_logs: Arc::new(span_logs),
    }
}
