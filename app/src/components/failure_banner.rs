//! What a failed job's page says first: the task (or span) that failed first, its error, and a
//! link to its span.

use leptos::prelude::*;

use crate::model::Failure;

/// The failed job's banner: what failed first, its error, a link to its span.
#[component]
pub fn FailureBanner(failure: Failure, job_path: String) -> impl IntoView {
    let Failure {
        what,
        error,
        span_id,
        failed,
        attempts,
    } = failure;
    let link = span_id.map(|id| {
        let href = format!("{job_path}?span={id}");
        view! {
            <a class="failure-banner__link" href=href>
                "Show its span →"
            </a>
        }
    });
    let tried = (attempts > 1).then(|| format!(" after {attempts} attempts"));
    let others = (failed > 1).then(|| format!(" ({} more failed)", failed - 1));
    view! {
        <div class="failure-banner" role="alert">
            <p class="failure-banner__what">
                <strong>"Failed: "</strong>
                <span class="failure-banner__task">{what}</span>
                {tried}
                {others}
            </p>
            {(!error.is_empty()).then(|| view! { <p class="failure-banner__error">{error}</p> })}
            {link}
        </div>
    }
}
