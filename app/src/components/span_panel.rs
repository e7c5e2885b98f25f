//! Details of the selected span: ids, status, timing and runner from the page's skeleton at
//! once; attributes, events (exceptions with their stack traces) and resource as they load; its
//! log lines.

use leptos::prelude::*;

use crate::components::use_clock;
use crate::components::{CopyButton, ErrorNotice, LogFilters, LogPanel, PanelLog, SpanStatusBadge};
use crate::error::AppError;
use crate::model::{Attributes, Span, SpanOutline, format_duration_ns, value_text};

#[component]
fn AttributeTable(title: &'static str, attributes: Attributes) -> impl IntoView {
    if attributes.is_empty() {
        return ().into_any();
    }
    let rows = attributes
        .into_iter()
        .map(|(key, value)| {
            // Keys break only after their dots (`identifier.<wbr>version`), never mid-word.
            let parts: Vec<String> = key.split('.').map(str::to_owned).collect();
            let last = parts.len() - 1;
            let key = parts
                .into_iter()
                .enumerate()
                .map(|(i, part)| {
                    if i < last {
                        view! {
                            {part}
                            "."
                            <wbr />
                        }
                        .into_any()
                    } else {
                        view! { {part} }.into_any()
                    }
                })
                .collect_view();
            view! {
                <tr>
                    <th>{key}</th>
                    <td>{value_text(&value)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h3>{title}</h3>
        <table class="span-panel__attributes">
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// What the skeleton leaves out: attributes, events, resource.
#[component]
fn SpanDetails(span: Span) -> impl IntoView {
    let events = span
        .events
        .iter()
        .map(|event| {
            let is_exception = event.name == "exception";
            let text = |key: &str| {
                event
                    .attributes
                    .get(key)
                    .map(value_text)
                    .unwrap_or_default()
            };
            let exception = is_exception.then(|| {
                view! {
                    <p class="span-panel__exception">
                        <strong>{text("exception.type")}</strong>
                        ": "
                        {text("exception.message")}
                    </p>
                    <pre class="span-panel__stack">{text("exception.stacktrace")}</pre>
                }
            });
            // Any other event shows what it carries (a `log.message`, a checkpoint's fields).
            let attributes = (!is_exception && !event.attributes.is_empty()).then(|| {
                let rows = event
                    .attributes
                    .iter()
                    .map(|(key, value)| {
                        view! {
                            <tr>
                                <th>{key.clone()}</th>
                                <td>{value_text(value)}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                view! {
                    <table class="span-panel__attributes span-panel__event-attributes">
                        <tbody>{rows}</tbody>
                    </table>
                }
            });
            view! {
                <li class="span-panel__event" class:span-panel__event--exception=is_exception>
                    <span class="span-panel__event-name">{event.name.clone()}</span>
                    " "
                    <time class="muted">{let (at, clock) = (event.time_ns, use_clock()); move || clock.format(at)}</time>
                    {exception}
                    {attributes}
                </li>
            }
        })
        .collect_view();
    let scope = (!span.scope_name.is_empty()).then(|| {
        view! {
            <p class="span-panel__scope muted">
                {format!("Instrumentation scope: {} {}", span.scope_name, span.scope_version)}
            </p>
        }
    });
    view! {
        <AttributeTable title="Attributes" attributes=span.attributes.clone() />
        {(!span.events.is_empty())
            .then(|| {
                view! {
                    <h3>"Events"</h3>
                    <ul class="span-panel__events">{events}</ul>
                }
            })}
        <AttributeTable title="Resource" attributes=span.resource.clone() />
        {scope}
    }
}

#[component]
pub fn SpanPanel(
    span: SpanOutline,
    trace_id: String,
    /// Index of the span in the trace.
    index: usize,
    /// Its attributes, events and resource as they load; `None` for a running attempt (its
    /// span arrives when the attempt ends).
    detail: Option<Resource<Result<Span, AppError>>>,
    /// Its log lines (and its descendants' when the panel asks for them) as they load.
    logs: Resource<Result<Vec<PanelLog>, AppError>>,
    /// How many log lines the span has, and with its descendants'.
    log_counts: (usize, usize),
    self_time_ns: i64,
    /// For a task attempt: what tells its task from its siblings (display label, input summary).
    task_tag: String,
    /// The parent span's index in the trace, when the trace has it (selecting it is a click).
    parent: Option<usize>,
    log_filters: LogFilters,
    select: Callback<Option<usize>>,
) -> impl IntoView {
    let details = match detail {
        None => view! {
            <p class="muted">"Running: its attributes arrive with its span when the attempt ends."</p>
        }
        .into_any(),
        Some(detail) => view! {
            <Suspense fallback=|| {
                view! { <p class="span-panel__loading muted">"Loading attributes…"</p> }
            }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(span) => view! { <SpanDetails span /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        }
        .into_any(),
    };
    let runner = (!span.runner.is_empty()).then(|| {
        view! {
            <dt>"Runner"</dt>
            <dd>
                <code>{span.runner.clone()}</code>
            </dd>
        }
    });
    let task_tag = (!task_tag.is_empty()).then(|| {
        view! {
            <dt>"Task"</dt>
            <dd class="span-panel__task">{task_tag}</dd>
        }
    });
    view! {
        <aside class="span-panel" aria-label="Span details">
            <h2 class="span-panel__name">{span.name.clone()}</h2>
            <dl class="span-panel__facts">
                <dt>"Status"</dt>
                <dd>
                    <SpanStatusBadge status=span.status_code />
                    " "
                    {span.status_message.clone()}
                </dd>
                <dt>"Span id"</dt>
                <dd>
                    <code>{span.span_id.clone()}</code>
                    " "
                    <CopyButton label="Copy" copied="Copied" text=Some(span.span_id.clone()) />
                </dd>
                <dt>"Trace id"</dt>
                <dd>
                    <code>{trace_id.clone()}</code>
                    " "
                    <CopyButton label="Copy" copied="Copied" text=Some(trace_id) />
                </dd>
                <dt>"Parent"</dt>
                <dd>
                    {match (parent, span.parent_span_id.clone()) {
                        (Some(at), Some(id)) => view! {
                            <button
                                class="span-panel__parent"
                                type="button"
                                title="Show the parent span"
                                aria-label="Show the parent span"
                                on:click=move |_| select.run(Some(at))
                            >
                                <code>{id}</code>
                            </button>
                        }
                            .into_any(),
                        (None, Some(id)) => view! { <code>{id}</code> }.into_any(),
                        (_, None) => view! { <code>"—"</code> }.into_any(),
                    }}
                </dd>
                <dt>"Start"</dt>
                <dd>{let (at, clock) = (span.start_ns, use_clock()); move || clock.format(at)}</dd>
                <dt>"Duration"</dt>
                <dd>{format_duration_ns(span.duration_ns())}</dd>
                <dt>"Self time"</dt>
                <dd title="Duration minus the time covered by child spans">
                    {format_duration_ns(self_time_ns)}
                </dd>
                <dt>"Service"</dt>
                <dd>{span.service.clone()}</dd>
                {runner}
                {task_tag}
            </dl>
            {details}
            <LogPanel span=index logs counts=log_counts filters=log_filters select />
        </aside>
    }
}
