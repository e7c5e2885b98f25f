//! The selected span's log lines with a severity floor and a text search (both local to the
//! panel), shown as text.

use leptos::prelude::*;

use crate::components::LogList;
use crate::model::LogRecord;

/// Severity floors offered, as OTLP severity numbers (INFO = 9, WARN = 13, ERROR = 17).
const FLOORS: [(&str, i32); 4] = [("all", 0), ("info+", 9), ("warn+", 13), ("error+", 17)];

#[component]
pub fn LogPanel(logs: Vec<LogRecord>) -> impl IntoView {
    let total = logs.len();
    let floor = RwSignal::new(0);
    let text = RwSignal::new(String::new());
    let shown = move || {
        let needle = text.get().to_lowercase();
        let floor = floor.get();
        logs.iter()
            .filter(|log| log.severity_number >= floor)
            .filter(|log| needle.is_empty() || log.body.to_lowercase().contains(&needle))
            .cloned()
            .collect::<Vec<_>>()
    };
    let options = FLOORS
        .iter()
        .map(|(label, number)| view! { <option value=number.to_string()>{*label}</option> })
        .collect_view();
    view! {
        <div class="log-panel">
            <div class="log-panel__filters">
                <h3>{format!("Logs ({total})")}</h3>
                <select
                    aria-label="Minimum severity"
                    on:change=move |ev| floor.set(event_target_value(&ev).parse().unwrap_or(0))
                >
                    {options}
                </select>
                <input
                    type="search"
                    aria-label="Search logs"
                    placeholder="Search logs"
                    on:input=move |ev| text.set(event_target_value(&ev))
                />
            </div>
            {move || view! { <LogList logs=shown() /> }}
        </div>
    }
}
