//! `/compare?a=<job>&b=<job>`: run B against run A, position by position (tasks by their
//! input), repeated siblings aggregated; differences above the noise stand out; `changes=1`
//! hides the rest.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::jobs::compare_jobs;
use crate::components::{ErrorNotice, JobStateBadge};
use crate::error::AppError;
use crate::model::{Change, CompareRow, JobComparison, Side, format_duration_ns};
use crate::pages::NotFoundPage;

#[component]
pub fn ComparePage() -> impl IntoView {
    let query = use_query_map();
    let ids = move || {
        query.with(|q| {
            (
                q.get("a").unwrap_or_default(),
                q.get("b").unwrap_or_default(),
            )
        })
    };
    let comparison = Resource::new(ids, |(a, b)| compare_jobs(a, b));
    view! {
        <Title text="Compare runs" />
        <Transition fallback=|| view! { <p class="muted">"Comparing…"</p> }>
            {move || Suspend::new(async move {
                match comparison.await {
                    Ok(comparison) => view! { <Comparison comparison /> }.into_any(),
                    Err(AppError::NotFound(what)) => view! { <NotFoundPage what /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A side's duration: the span's, or for several spans their median and how many.
fn duration(side: Option<Side>) -> String {
    match side {
        None => "—".to_owned(),
        Some(s) if s.count == 1 => format_duration_ns(s.p50_ns),
        Some(s) => format!(
            "{} × p50 {} (Σ {})",
            s.count,
            format_duration_ns(s.p50_ns),
            format_duration_ns(s.sum_ns)
        ),
    }
}

/// `+800 ms (+80 %)`: how much longer (or shorter) B took than A.
fn signed_delta(a_ns: i64, b_ns: i64) -> String {
    let d = b_ns - a_ns;
    let sign = if d < 0 { "−" } else { "+" };
    let ratio = if a_ns > 0 {
        format!(" ({:+.0} %)", (b_ns as f64 / a_ns as f64 - 1.0) * 100.0)
    } else {
        String::new()
    };
    format!("{sign}{}{ratio}", format_duration_ns(d.abs()))
}

fn delta(row: &CompareRow) -> String {
    match (row.a, row.b) {
        (Some(a), Some(b)) => signed_delta(a.p50_ns, b.p50_ns),
        (None, Some(_)) => "new in B".to_owned(),
        (Some(_), None) => "missing in B".to_owned(),
        (None, None) => String::new(),
    }
}

/// Failures only: a status column full of "unset" said nothing.
fn failures(side: Option<Side>) -> String {
    match side {
        Some(s) if s.failed > 0 && s.count == 1 => "failed".to_owned(),
        Some(s) if s.failed > 0 => format!("{} failed", s.failed),
        _ => String::new(),
    }
}

#[component]
fn Comparison(comparison: JobComparison) -> impl IntoView {
    let JobComparison {
        a,
        b,
        rows,
        noise_ns,
    } = comparison;
    let count = |change: Change| rows.iter().filter(|r| r.change == change).count();
    let (regressions, improvements) = (count(Change::Slower), count(Change::Faster));
    let (added, missing) = (count(Change::Added), count(Change::Missing));
    let query = use_query_map();
    let only_changes = move || query.with(|q| q.get("changes").as_deref() == Some("1"));
    let toggle_href = {
        let (a, b) = (a.id.clone(), b.id.clone());
        move || {
            let base = format!("/compare?a={a}&b={b}");
            if only_changes() {
                base
            } else {
                format!("{base}&changes=1")
            }
        }
    };
    let body = rows
        .into_iter()
        .map(|row| {
            let kind = row.change.css();
            let indent = format!("padding-left: {}rem", row.depth() as f64 * 1.1 + 0.6);
            let label = row.name().to_owned();
            let same = row.change == Change::Same;
            view! {
                <tr
                    class=format!("compare__row compare__row--{kind}")
                    class:hidden=move || same && only_changes()
                    data-kind=kind
                >
                    <td style=indent>{label}</td>
                    <td class="num">{duration(row.a)}</td>
                    <td class="num">{duration(row.b)}</td>
                    <td class="num compare__delta">{delta(&row)}</td>
                    <td class="compare__failed">{failures(row.a)}</td>
                    <td class="compare__failed">{failures(row.b)}</td>
                </tr>
            }
        })
        .collect_view();
    let job_delta = signed_delta(a.duration_ns(), b.duration_ns());
    view! {
        <section class="compare">
            <h1>"Compare runs of " {b.name.clone()}</h1>
            <table class="compare__jobs">
                <tbody>
                    <tr>
                        <th>"A"</th>
                        <td>
                            <a href=format!("/jobs/{}", a.id)>{a.id.clone()}</a>
                        </td>
                        <td>
                            <JobStateBadge state=a.state />
                        </td>
                        <td class="num">{format_duration_ns(a.duration_ns())}</td>
                    </tr>
                    <tr>
                        <th>"B"</th>
                        <td>
                            <a href=format!("/jobs/{}", b.id)>{b.id.clone()}</a>
                        </td>
                        <td>
                            <JobStateBadge state=b.state />
                        </td>
                        <td class="num">{format_duration_ns(b.duration_ns())}</td>
                    </tr>
                </tbody>
            </table>
            <p class="compare__job-delta">"The job: " <strong>{job_delta}</strong></p>
            <p class="compare__summary">
                {format!(
                    "{regressions} slower, {improvements} faster, {added} new in B, {missing} missing in B \
                     (differences under {} or 20 % are noise)",
                    format_duration_ns(noise_ns),
                )}
                " "
                <a class="compare__toggle" href=toggle_href>
                    {move || if only_changes() { "Show every row" } else { "Only changes" }}
                </a>
            </p>
            <table class="compare__table">
                <thead>
                    <tr>
                        <th>"Span"</th>
                        <th class="num">"A"</th>
                        <th class="num">"B"</th>
                        <th class="num">"B − A (median)"</th>
                        <th>"A failed"</th>
                        <th>"B failed"</th>
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </section>
    }
}
