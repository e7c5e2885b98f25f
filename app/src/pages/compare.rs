//! `/compare?a=<job>&b=<job>`: run B against run A, span by span; regressions stand out.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::jobs::compare_jobs;
use crate::components::{ErrorNotice, JobStateBadge, SpanStatusBadge};
use crate::error::AppError;
use crate::model::{CompareRow, JobComparison, Side, format_duration_ns};
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

fn duration(side: Option<Side>) -> String {
    side.map(|s| format_duration_ns(s.duration_ns))
        .unwrap_or_else(|| "—".to_owned())
}

fn delta(row: &CompareRow) -> String {
    match (row.a, row.b) {
        (Some(a), Some(b)) => {
            let d = b.duration_ns - a.duration_ns;
            let sign = if d < 0 { "−" } else { "+" };
            let ratio = if a.duration_ns > 0 {
                format!(
                    " ({:+.0} %)",
                    (b.duration_ns as f64 / a.duration_ns as f64 - 1.0) * 100.0
                )
            } else {
                String::new()
            };
            format!("{sign}{}{ratio}", format_duration_ns(d.abs()))
        }
        (None, Some(_)) => "new in B".to_owned(),
        (Some(_), None) => "missing in B".to_owned(),
        (None, None) => String::new(),
    }
}

#[component]
fn Comparison(comparison: JobComparison) -> impl IntoView {
    let JobComparison { a, b, rows } = comparison;
    let regressions = rows.iter().filter(|r| r.is_regression()).count();
    let improvements = rows.iter().filter(|r| r.is_improvement()).count();
    let added = rows.iter().filter(|r| r.a.is_none()).count();
    let missing = rows.iter().filter(|r| r.b.is_none()).count();
    let body = rows
        .into_iter()
        .map(|row| {
            let kind = if row.is_regression() {
                "regression"
            } else if row.is_improvement() {
                "improvement"
            } else if row.a.is_none() {
                "added"
            } else if row.b.is_none() {
                "missing"
            } else {
                "same"
            };
            let indent = format!("padding-left: {}rem", row.depth() as f64 * 1.1 + 0.6);
            let label = if row.occurrence > 0 {
                format!("{} #{}", row.name(), row.occurrence + 1)
            } else {
                row.name().to_owned()
            };
            let status =
                |side: Option<Side>| side.map(|s| view! { <SpanStatusBadge status=s.status /> });
            view! {
                <tr class=format!("compare__row compare__row--{kind}") data-kind=kind>
                    <td style=indent>{label}</td>
                    <td class="num">{duration(row.a)}</td>
                    <td class="num">{duration(row.b)}</td>
                    <td class="num compare__delta">{delta(&row)}</td>
                    <td>{status(row.a)}</td>
                    <td>{status(row.b)}</td>
                </tr>
            }
        })
        .collect_view();
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
            <p class="compare__summary">
                {format!(
                    "{regressions} regression(s), {improvements} faster, {added} span(s) new in B, \
                     {missing} missing in B",
                )}
            </p>
            <table class="compare__table">
                <thead>
                    <tr>
                        <th>"Span"</th>
                        <th class="num">"A"</th>
                        <th class="num">"B"</th>
                        <th class="num">"B − A"</th>
                        <th>"A status"</th>
                        <th>"B status"</th>
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </section>
    }
}
