//! The selected span's log lines (optionally with its descendants'), with a severity floor and
//! a text search kept in the URL (`logs`, `logq`, `logsub`); each line of a descendant links to
//! its span. The lines load when the span is selected; bodies are shown as text.

use std::sync::Arc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::{ErrorNotice, LogLine};
use crate::error::AppError;
use crate::model::{LogRecord, PANEL_LOGS};

/// Severity floors offered (the log panel and the Logs tab), as OTLP severity numbers (INFO = 9, WARN = 13, ERROR = 17).
pub const LOG_FLOORS: [(&str, i32); 4] = [("all", 0), ("info+", 9), ("warn+", 13), ("error+", 17)];

/// One log line with the span it belongs to (index and name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelLog {
    pub log: LogRecord,
    pub span: usize,
    pub span_name: String,
}

/// The panel's filters, read from and written to the URL by the trace view.
#[derive(Clone, Copy)]
pub struct LogFilters {
    pub floor: Memo<i32>,
    pub text: Memo<String>,
    pub subtree: Memo<bool>,
    /// Sets one URL parameter (`None` removes it).
    pub set: Callback<(&'static str, Option<String>)>,
}

#[component]
pub fn LogPanel(
    /// The selected span.
    span: usize,
    /// Its own lines, or with its descendants' (as the filters ask), by time, as they load.
    logs: Resource<Result<Vec<PanelLog>, AppError>>,
    /// How many lines the span has, and with its descendants'.
    counts: (usize, usize),
    filters: LogFilters,
    select: Callback<Option<usize>>,
) -> impl IntoView {
    let (own, total) = counts;
    let render = move |logs: Arc<Vec<PanelLog>>| {
        let needle = filters.text.get().to_lowercase();
        let floor = filters.floor.get();
        let subtree = filters.subtree.get();
        let shown: Vec<PanelLog> = logs
            .iter()
            .filter(|l| subtree || l.span == span)
            .filter(|l| l.log.severity_number >= floor)
            .filter(|l| needle.is_empty() || l.log.body.to_lowercase().contains(&needle))
            .cloned()
            .collect();
        if shown.is_empty() {
            return view! { <p class="log-list__empty muted">"No log lines."</p> }.into_any();
        }
        shown
            .into_iter()
            .map(|line| {
                let target = line.span;
                let link = (line.span != span).then(|| {
                    view! {
                        <button
                            class="log-panel__span"
                            type="button"
                            title="Show this span"
                            on:click=move |_| select.run(Some(target))
                        >
                            {line.span_name.clone()}
                        </button>
                    }
                    .into_any()
                });
                view! { <LogLine log=line.log span=link /> }
            })
            .collect_view()
            .into_any()
    };
    let lines = move || {
        Suspend::new(async move {
            match logs.await {
                Ok(logs) => {
                    let logs = Arc::new(logs);
                    (move || render(logs.clone())).into_any()
                }
                Err(error) => view! { <ErrorNotice error /> }.into_any(),
            }
        })
    };
    let cut = move || {
        let asked = if filters.subtree.get() { total } else { own };
        (asked > PANEL_LOGS as usize).then(|| {
            view! {
                <p class="log-panel__cut muted">
                    {format!("The first {PANEL_LOGS} of {asked} lines; the logs download has them all.")}
                </p>
            }
        })
    };
    let options = LOG_FLOORS
        .iter()
        .map(|(label, number)| view! { <option value=number.to_string()>{*label}</option> })
        .collect_view();
    view! {
        <div class="log-panel">
            <div class="log-panel__filters">
                <h3>{format!("Logs ({own}, {total} with children)")}</h3>
                <label class="log-panel__subtree">
                    <input
                        type="checkbox"
                        prop:checked=move || filters.subtree.get()
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            filters.set.run(("logsub", on.then(|| "1".to_owned())));
                        }
                    />
                    " children"
                </label>
                <select
                    aria-label="Minimum severity"
                    prop:value=move || filters.floor.get().to_string()
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        filters.set.run(("logs", (value != "0").then_some(value)));
                    }
                >
                    {options}
                </select>
                <input
                    type="search"
                    aria-label="Search logs"
                    placeholder="Search logs"
                    prop:value=move || filters.text.get()
                    on:input=move |ev| filters.set.run(("logq", Some(event_target_value(&ev))))
                />
            </div>
            {cut}
            <Suspense fallback=|| view! { <p class="log-list__empty muted">"Loading log lines…"</p> }>
                <ul class="log-list">{lines}</ul>
            </Suspense>
        </div>
    }
}
