//! `/`: jobs newest (or longest) first, filtered by the URL's parameters, one page at a time,
//! refreshing itself while jobs run.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::jobs::list_jobs;
use crate::components::{ErrorNotice, JobScatter, JobTable, SortLinks};
use crate::model::{JobPage, JobState, RANGES, filled_params, job_scatter};

/// How often a list with unfinished jobs asks for fresh data.
const REFRESH: Duration = Duration::from_secs(5);

#[component]
pub fn JobListPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        query.with(|q| {
            q.into_iter()
                .map(|(k, v)| (k.to_string(), v.to_owned()))
                .collect::<Vec<(String, String)>>()
        })
    });
    let page = Resource::new(
        move || serde_json::to_string(&params.get()).unwrap_or_default(),
        list_jobs,
    );
    // While the shown jobs are unfinished, refetch in place (no reload, scroll kept).
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                let unfinished = page.with_untracked(|page| {
                    matches!(page, Some(Ok(page)) if page.jobs.iter().any(|j| matches!(
                        j.state,
                        JobState::Running | JobState::Started | JobState::Submitted
                    )))
                });
                if unfinished {
                    page.refetch();
                }
            },
            REFRESH,
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
    let value = move |key: &'static str| move || query.with(|q| q.get(key).unwrap_or_default());
    // The states asked for, as the chips name them: `state=FAILED&state=RUNNING`,
    // `state=failed,running` and the like all read `FAILED,RUNNING`.
    let states = move || {
        query.with(|q| {
            q.get_all("state")
                .unwrap_or_default()
                .iter()
                .flat_map(|v| v.split(','))
                .map(|s| s.trim().to_uppercase())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(",")
        })
    };
    // Each field's value is also written as an attribute (`value=`, `selected`): the page is
    // sent whole and must show the filters it applied before (or without) JavaScript, where the
    // state dropdown said "Any state" next to an active FAILED chip.
    let chosen = move |key: &'static str, option: &'static str| {
        move || {
            if key == "state" {
                return states() == option;
            }
            query.with(|q| match key {
                "sort" => q.get("sort").unwrap_or_else(|| "newest".to_owned()) == option,
                _ => q.get(key).unwrap_or_default() == option,
            })
        }
    };
    // Apply navigates to the filled fields only (a browser without JavaScript submits the form
    // as it is, empty fields included, which the server reads the same).
    let navigate = use_navigate();
    let apply = move |ev: leptos::ev::SubmitEvent| {
        if let Some(query) = form_query(&ev) {
            ev.prevent_default();
            let query = filled_params(&query);
            let to = if query.is_empty() {
                "/".to_owned()
            } else {
                format!("/?{query}")
            };
            navigate(&to, Default::default());
        }
    };
    view! {
        <Title text="Jobs" />
        <section class="job-list">
            <div class="job-list__head">
                <h1>"Jobs"</h1>
            </div>
            <form method="GET" action="/" class="job-filters" on:submit=apply>
                <input
                    class="job-filters__name"
                    type="search"
                    name="name"
                    placeholder="Name contains"
                    aria-label="Name contains"
                    value=value("name")
                    prop:value=value("name")
                />
                <select name="state" aria-label="State" prop:value=states>
                    <option value="" selected=move || states().is_empty()>"Any state"</option>
                    // Several states (a link or a chip's API form): one option that keeps them.
                    {move || {
                        let several = states();
                        several.contains(',').then(|| {
                            let label = several.replace(',', " + ");
                            view! { <option value=several selected=true>{label}</option> }
                        })
                    }}
                    {JobState::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str() selected=chosen("state", s.as_str())>{s.as_str()}</option> })
                        .collect_view()}
                </select>
                <select name="range" aria-label="Started within" prop:value=value("range")>
                    <option value="">"Any time"</option>
                    {RANGES
                        .iter()
                        .map(|(name, _)| view! { <option value=*name selected=chosen("range", name)>{format!("Last {name}")}</option> })
                        .collect_view()}
                </select>
                <input
                    type="number"
                    name="min_duration"
                    min="0"
                    step="any"
                    placeholder="Min s"
                    aria-label="Minimum duration in seconds"
                    value=value("min_duration")
                    prop:value=value("min_duration")
                />
                <input
                    type="number"
                    name="max_duration"
                    min="0"
                    step="any"
                    placeholder="Max s"
                    aria-label="Maximum duration in seconds"
                    value=value("max_duration")
                    prop:value=value("max_duration")
                />
                <input
                    type="text"
                    name="cluster"
                    placeholder="Cluster"
                    aria-label="Cluster"
                    value=value("cluster")
                    prop:value=value("cluster")
                />
                <input
                    type="text"
                    name="service"
                    placeholder="Service"
                    aria-label="Service"
                    value=value("service")
                    prop:value=value("service")
                />
                <select name="errors" aria-label="Errors" prop:value=value("errors")>
                    <option value="">"Errors or not"</option>
                    <option value="yes" selected=chosen("errors", "yes")>"With errors"</option>
                    <option value="no" selected=chosen("errors", "no")>"Without errors"</option>
                </select>
                <select
                    name="sort"
                    aria-label="Order"
                    prop:value=move || query.with(|q| q.get("sort").unwrap_or_else(|| "newest".to_owned()))
                >
                    <option value="newest" selected=chosen("sort", "newest")>"Newest first"</option>
                    <option value="longest" selected=chosen("sort", "longest")>"Longest first"</option>
                </select>
                <button class="button" type="submit">
                    "Apply"
                </button>
                <a class="job-filters__clear" href="/">
                    "Clear"
                </a>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading jobs…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => {
                            view! { <JobListBody page params=params.get_untracked() /> }.into_any()
                        }
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The submitted form's fields as a query string (`None` without a browser).
fn form_query(ev: &leptos::ev::SubmitEvent) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let form = ev.target()?.dyn_into::<web_sys::HtmlFormElement>().ok()?;
        let data = web_sys::FormData::new_with_form(&form).ok()?;
        let params = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data).ok()?;
        Some(String::from(params.to_string()))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// `/?…` with `params` but `replace`'s keys replaced.
fn href_with(params: &[(String, String)], replace: &[(&str, Option<String>)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !replace.iter().any(|(r, _)| r == k) && k != "cursor")
        .cloned()
        .collect();
    for (key, value) in replace {
        if let Some(value) = value {
            pairs.push(((*key).to_owned(), value.clone()));
        }
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    if query.is_empty() {
        "/".to_owned()
    } else {
        format!("/?{}", query.join("&"))
    }
}

fn urlencode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[component]
fn JobListBody(page: JobPage, params: Vec<(String, String)>) -> impl IntoView {
    let selected: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "state")
        .flat_map(|(_, v)| v.split(',').map(str::to_uppercase).collect::<Vec<_>>())
        .collect();
    let chips = (!page.state_counts.is_empty()).then(|| {
        let total: i64 = page.state_counts.iter().map(|c| c.count).sum();
        let all = href_with(&params, &[("state", None)]);
        let chips = page
            .state_counts
            .iter()
            .map(|c| {
                let href = href_with(&params, &[("state", Some(c.state.as_str().to_owned()))]);
                let active = selected.iter().any(|s| s == c.state.as_str());
                view! {
                    <a
                        class=format!("state-chip state-chip--{}", c.state.css())
                        class:state-chip--active=active
                        href=href
                    >
                        {c.state.as_str()}
                        <span class="state-chip__count">{c.count}</span>
                    </a>
                }
            })
            .collect_view();
        view! {
            <nav class="state-chips" aria-label="Jobs by state">
                <a class="state-chip" class:state-chip--active=selected.is_empty() href=all>
                    "ALL"
                    <span class="state-chip__count">{total}</span>
                </a>
                {chips}
            </nav>
        }
    });
    let next = page
        .next_cursor
        .clone()
        .map(|cursor| href_with(&params, &[("cursor", Some(cursor))]));
    let longest = params
        .iter()
        .any(|(k, v)| k == "sort" && v.eq_ignore_ascii_case("longest"));
    let sort = SortLinks {
        newest: href_with(&params, &[("sort", None)]),
        longest: href_with(&params, &[("sort", Some("longest".to_owned()))]),
        by_longest: longest,
    };
    let scatter = job_scatter(&page.jobs).map(|scatter| view! { <JobScatter scatter /> });
    view! {
        {chips}
        {scatter}
        <JobTable page sort />
        {next.map(|href| view! { <a class="job-table__next" href=href>"Older jobs →"</a> })}
    }
}
