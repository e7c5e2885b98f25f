//! Log records as lines: time, severity, body (always as text).

use leptos::prelude::*;

use crate::components::use_clock;
use crate::model::LogRecord;

/// One line; `span` (a link to the line's span, in the log panel) goes before the body.
#[component]
pub fn LogLine(log: LogRecord, #[prop(default = None)] span: Option<AnyView>) -> impl IntoView {
    let severity = log.severity_label().to_owned();
    let class = format!(
        "log-list__severity log-list__severity--{}",
        severity.to_lowercase()
    );
    view! {
        <li class="log-list__line">
            <time class="log-list__time">{let at = log.time_ns; let clock = use_clock(); move || clock.format(at)}</time>
            <span class=class>{severity}</span>
            {span}
            <span class="log-list__body">{log.body}</span>
        </li>
    }
}

#[component]
pub fn LogList(logs: Vec<LogRecord>) -> impl IntoView {
    if logs.is_empty() {
        return view! { <p class="log-list__empty muted">"No log lines."</p> }.into_any();
    }
    let lines = logs
        .into_iter()
        .map(|log| view! { <LogLine log /> })
        .collect_view();
    view! { <ul class="log-list">{lines}</ul> }.into_any()
}
