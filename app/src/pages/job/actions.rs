//! The job page's action: Retry a failed or canceled workflow job, Cancel a running one,
//! through the server functions (which refuse requests a page elsewhere made).

use leptos::prelude::*;

use crate::api::jobs::{cancel_job, retry_job};
use crate::model::JobState;

/// Which action a workflow job in `state` offers, if any.
fn action_for(state: JobState) -> Option<(&'static str, &'static str)> {
    match state {
        JobState::Failed | JobState::Canceled => Some(("retry", "Retry failed tasks")),
        JobState::Submitted | JobState::Running | JobState::Started => {
            Some(("cancel", "Cancel job"))
        }
        JobState::Completed => None,
    }
}

/// The Retry or Cancel button of a workflow job. After it succeeds the page reloads its trace
/// and shows what was done (`done` gets the message: this component is replaced by the reload,
/// so the page keeps it); a failure is shown here.
#[component]
pub fn JobActions(job_id: String, state: JobState, done: Callback<String>) -> impl IntoView {
    let Some((kind, label)) = action_for(state) else {
        return ().into_any();
    };
    let act = Action::new(move |job_id: &String| {
        let job_id = job_id.clone();
        async move {
            match kind {
                "retry" => retry_job(job_id)
                    .await
                    .map(|n| format!("{n} task{} queued again", if n == 1 { "" } else { "s" })),
                _ => cancel_job(job_id).await.map(|()| "Canceled".to_owned()),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(text)) = act.value().get() {
            done.run(text);
        }
    });
    let result = move || match act.value().get() {
        Some(Err(error)) => view! {
            <span class="job-actions__result job-actions__result--error" role="alert">
                {error.to_string()}
            </span>
        }
        .into_any(),
        _ => ().into_any(),
    };
    let confirm = kind == "cancel";
    view! {
        <div class="job-actions">
            <button
                class="button"
                class:button--danger=confirm
                disabled=move || act.pending().get()
                on:click=move |_| {
                    act.dispatch(job_id.clone());
                }
            >
                {label}
            </button>
            {result}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_finished_jobs_offer_retry_and_unfinished_ones_cancel() {
        assert_eq!(action_for(JobState::Failed).map(|a| a.0), Some("retry"));
        assert_eq!(action_for(JobState::Canceled).map(|a| a.0), Some("retry"));
        assert_eq!(action_for(JobState::Running).map(|a| a.0), Some("cancel"));
        assert_eq!(action_for(JobState::Started).map(|a| a.0), Some("cancel"));
        assert_eq!(action_for(JobState::Completed), None);
    }
}
