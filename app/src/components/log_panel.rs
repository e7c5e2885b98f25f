//! The selected span's log lines (optionally with its descendants'), with a severity floor and
//! a text search kept in the URL (`logs`, `logq`, `logsub`); each line of a descendant links to
//! its span. Bodies are shown as text.

use leptos::prelude::*;

use crate::components::LogLine;
use crate::model::LogRecord;

/// Severity floors offered, as OTLP severity numbers (INFO = 9, WARN = 13, ERROR = 17).
const FLOORS: [(&str, i32); 4] = [("all", 0), ("info+", 9), ("warn+", 13), ("error+", 17)];

/// One log line with the span it belongs to (index and name).
#[derive(Clone, Debug, PartialEq)]
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
    /// Its own lines and its descendants', by time.
    logs: Vec<PanelLog>,
    filters: LogFilters,
    select: Callback<Option<usize>>,
) -> impl IntoView {
    let own = logs.iter().filter(|l| l.span == span).count();
    let total = logs.len();
    let shown = move || {
        let needle = filters.text.get().to_lowercase();
        let floor = filters.floor.get();
        let subtree = filters.subtree.get();
        logs.iter()
            .filter(|l| subtree || l.span == span)
            .filter(|l| l.log.severity_number >= floor)
            .filter(|l| needle.is_empty() || l.log.body.to_lowercase().contains(&needle))
            .cloned()
            .collect::<Vec<_>>()
    };
    let options = FLOORS
        .iter()
        .map(|(label, number)| view! { <option value=number.to_string()>{*label}</option> })
        .collect_view();
    let lines = move || {
        let shown = shown();
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
            <ul class="log-list">{lines}</ul>
        </div>
    }
}
