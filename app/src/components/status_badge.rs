//! Coloured badges for job states and span statuses.

use leptos::prelude::*;

use crate::model::{JobState, StatusCode};

#[component]
pub fn JobStateBadge(state: JobState) -> impl IntoView {
    view! {
        <span class=format!("status-badge status-badge--{}", state.css())>{state.as_str()}</span>
    }
}

/// A workflow task state (`QUEUED`, `RUNNING`, `COMPUTED`, `FAILED`, …).
#[component]
pub fn TaskStateBadge(state: String) -> impl IntoView {
    let css = match state.as_str() {
        "COMPUTED" => "completed",
        "RUNNING" => "running",
        "FAILED" => "failed",
        "QUEUED" => "submitted",
        _ => "unset",
    };
    view! { <span class=format!("status-badge status-badge--{css}")>{state}</span> }
}

#[component]
pub fn SpanStatusBadge(status: StatusCode) -> impl IntoView {
    let label = match status {
        StatusCode::Unset => "unset",
        StatusCode::Ok => "ok",
        StatusCode::Error => "error",
    };
    view! { <span class=format!("status-badge status-badge--{}", status.css())>{label}</span> }
}
