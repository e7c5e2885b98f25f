//! `/tasks`: every task identifier's runs across jobs over a window of days (executions,
//! failure rate, queue wait and duration percentiles, a sparkline per day, slowdowns of newer
//! versions); `/tasks/<identifier>`: one identifier per version and day, with its slowest runs
//! linked to their spans. `?days=` picks the window (the URL restores the view).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::tasks::{load_task_analytics, load_task_detail};
use crate::components::{ErrorNotice, use_clock};
use crate::model::{
    DEFAULT_STAT_DAYS, DayStats, MAX_STAT_DAYS, Percentiles, RunStats, Slowdown, TaskAnalytics,
    TaskDetail, TaskIdentifierStats, format_duration_ns,
};

/// A sparkline's width (px): the window's days share it.
const SPARK_WIDTH: f64 = 112.0;

/// A sparkline's slot per day (px).
fn slot(days: usize) -> f64 {
    SPARK_WIDTH / days.max(1) as f64
}

/// The windows the pages offer, in days.
const WINDOWS: [u32; 4] = [1, 7, 14, 30];

/// The window the URL asks for (`?days=`), or the default; out of range is the server's 400.
fn days_param() -> Memo<u32> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.with(|q| {
            q.get("days").map_or(DEFAULT_STAT_DAYS, |d| {
                d.parse().unwrap_or(MAX_STAT_DAYS + 1)
            })
        })
    })
}

/// The path of an identifier's page (identifiers may hold any character).
fn task_href(name: &str, days: u32) -> String {
    let mut path = String::from("/tasks/");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            path.push(char::from(byte));
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{path}?days={days}")
}

fn duration(ns: Option<i64>) -> String {
    ns.map_or_else(|| "—".to_owned(), format_duration_ns)
}

fn percent(rate: f64) -> String {
    if rate == 0.0 {
        "0 %".to_owned()
    } else if rate < 0.001 {
        "<0.1 %".to_owned()
    } else {
        format!("{:.1} %", rate * 100.0)
    }
}

#[component]
fn WindowLinks(days: Memo<u32>, base: String) -> impl IntoView {
    let links = WINDOWS
        .into_iter()
        .map(|n| {
            let href = format!("{base}?days={n}");
            view! {
                <a
                    href=href
                    class="state-chip"
                    class:state-chip--active=move || days.get() == n
                    aria-current=move || (days.get() == n).then_some("page")
                >
                    {if n == 1 { "today".to_owned() } else { format!("{n} days") }}
                </a>
            }
        })
        .collect_view();
    view! {
        <nav class="state-chips task-stats__windows" aria-label="Window">
            {links}
        </nav>
    }
}

/// Daily executions as bars, failures in red on top: one bar per day of the window.
#[component]
fn RunBars(days: Vec<DayStats>) -> impl IntoView {
    let (width, height, slot) = (SPARK_WIDTH, 24.0, slot(days.len()));
    let bar = (slot * 0.75).max(1.0);
    let most = days
        .iter()
        .map(|d| d.stats.executions)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let total: i64 = days.iter().map(|d| d.stats.executions).sum();
    let bars = days
        .iter()
        .enumerate()
        .filter(|(_, d)| d.stats.executions > 0)
        .map(|(i, d)| {
            let x = i as f64 * slot;
            let h = (d.stats.executions as f64 / most * height).max(1.0);
            let failed_h = d.stats.failed as f64 / most * height;
            view! {
                <rect class="spark__runs" x=x y={height - h} width=bar height=h />
                <rect class="spark__failed" x=x y={height - h} width=bar height=failed_h />
            }
        })
        .collect_view();
    view! {
        <svg
            class="spark"
            viewBox=format!("0 0 {width} {height}")
            width=width
            height=height
            role="img"
            aria-label=format!("{total} runs over {} days", days.len())
        >
            {bars}
        </svg>
    }
}

/// Daily p95 duration as a line (days without runs leave a gap).
#[component]
fn P95Line(days: Vec<DayStats>) -> impl IntoView {
    let (width, height, slot) = (SPARK_WIDTH, 24.0, slot(days.len()));
    let values: Vec<Option<i64>> = days.iter().map(|d| d.stats.duration.p95_ns).collect();
    let most = values.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let xy: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.map(|ns| {
                (
                    i as f64 * slot + slot * 0.375,
                    height - ns as f64 / most * (height - 4.0) - 2.0,
                )
            })
        })
        .collect();
    let points = xy
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    // Each day with runs is a dot too: a lone day has no line.
    let dots = xy
        .into_iter()
        .map(|(x, y)| view! { <circle class="spark__dot" cx=x cy=y r="1.5" /> })
        .collect_view();
    view! {
        <svg
            class="spark"
            viewBox=format!("0 0 {width} {height}")
            width=width
            height=height
            role="img"
            aria-label=format!("daily p95 duration, highest {}", format_duration_ns(most as i64))
        >
            <polyline class="spark__line" points=points />
            {dots}
        </svg>
    }
}

fn slowdown_text(slowdown: &Slowdown) -> String {
    format!(
        "{} {} {} is {:.1}× {} ({})",
        slowdown.version,
        slowdown.percentile,
        format_duration_ns(slowdown.ns),
        slowdown.factor(),
        slowdown.previous,
        format_duration_ns(slowdown.previous_ns)
    )
}

/// The figure cells shared by both pages' rows: runs, failures, queue wait and duration.
fn figure_cells(stats: &RunStats) -> impl IntoView + use<> {
    let Percentiles {
        p50_ns,
        p95_ns,
        p99_ns,
    } = stats.duration;
    let failed_class = if stats.failed > 0 {
        "num task-stats__failing"
    } else {
        "num"
    };
    view! {
        <td class="num">{stats.executions}</td>
        <td class=failed_class>
            {percent(stats.failure_rate())}
        </td>
        <td class="num">{duration(stats.queue_wait.p50_ns)}</td>
        <td class="num">{duration(stats.queue_wait.p95_ns)}</td>
        <td class="num">{duration(p50_ns)}</td>
        <td class="num">{duration(p95_ns)}</td>
        <td class="num">{duration(p99_ns)}</td>
    }
}

fn figure_headers() -> impl IntoView {
    view! {
        <th class="num">"Runs"</th>
        <th class="num">"Failed"</th>
        <th class="num" title="from when it could run to its claim">"Wait p50"</th>
        <th class="num">"Wait p95"</th>
        <th class="num">"p50"</th>
        <th class="num">"p95"</th>
        <th class="num">"p99"</th>
    }
}

#[component]
pub fn TasksPage() -> impl IntoView {
    let days = days_param();
    let analytics = Resource::new(move || days.get(), load_task_analytics);
    view! {
        <Title text="Tasks" />
        <section class="task-stats">
            <h1>"Tasks"</h1>
            <WindowLinks days base="/tasks".to_owned() />
            <Transition fallback=|| view! { <p class="muted">"Loading tasks…"</p> }>
                {move || Suspend::new(async move {
                    match analytics.await {
                        Ok(analytics) => view! { <TaskTable analytics /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TaskTable(analytics: TaskAnalytics) -> impl IntoView {
    let days = analytics.days;
    if analytics.tasks.is_empty() {
        return view! {
            <p class="task-stats__empty">
                "No task ran in this window. Runs appear here a second or so after they end."
            </p>
        }
        .into_any();
    }
    let rows = analytics
        .tasks
        .into_iter()
        .map(|task: TaskIdentifierStats| {
            let latest = task
                .versions
                .first()
                .map(|v| v.version.clone())
                .unwrap_or_default();
            let flag = task.slowdown.as_ref().map(|s| {
                view! {
                    <span class="task-stats__slowdown" title=slowdown_text(s)>
                        {format!("{} slower", s.version)}
                    </span>
                }
            });
            view! {
                <tr class="task-stats__row" data-task=task.name.clone()>
                    <td>
                        <a href=task_href(&task.name, days) class="task-stats__name">
                            {task.name.clone()}
                        </a>
                        {flag}
                    </td>
                    <td>
                        <code>{latest}</code>
                        {(task.versions.len() > 1)
                            .then(|| format!(" +{}", task.versions.len() - 1))}
                    </td>
                    {figure_cells(&task.stats)}
                    <td>
                        <RunBars days=task.days.clone() />
                    </td>
                    <td>
                        <P95Line days=task.days />
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="job-table task-stats__table">
            <thead>
                <tr>
                    <th>"Task"</th>
                    <th>"Version"</th>
                    {figure_headers()}
                    <th>"Runs per day"</th>
                    <th>"p95 per day"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn TaskPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.with(|p| p.get("name").unwrap_or_default()));
    let days = days_param();
    let detail = Resource::new(
        move || (name.get(), days.get()),
        |(n, d)| load_task_detail(n, d),
    );
    view! {
        <Title text=move || format!("Task {}", name.get()) />
        <section class="task-stats">
            <p>
                <a href="/tasks">"Tasks"</a>
            </p>
            <h1 class="task-stats__title">{move || name.get()}</h1>
            <WindowLinks days base=task_href(&name.get_untracked(), 0).replace("?days=0", "") />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => view! { <TaskDetailView detail /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TaskDetailView(detail: TaskDetail) -> impl IntoView {
    let clock = use_clock();
    let task = detail.task;
    let banner = task.slowdown.as_ref().map(|s| {
        view! {
            <p class="task-stats__banner" role="status">
                "Slower: " {slowdown_text(s)}
            </p>
        }
    });
    let version_rows = task
        .versions
        .iter()
        .map(|v| {
            let (first, last) = (v.first_day_ns, v.last_day_ns);
            let series = detail
                .version_days
                .iter()
                .find(|(version, _)| *version == v.version)
                .map(|(_, days)| days.clone())
                .unwrap_or_default();
            view! {
                <tr class="task-stats__version" data-version=v.version.clone()>
                    <td>
                        <code>{v.version.clone()}</code>
                    </td>
                    {figure_cells(&v.stats)}
                    <td>
                        <RunBars days=series.clone() />
                    </td>
                    <td>
                        <P95Line days=series />
                    </td>
                    <td class="muted">
                        {crate::model::format_time_ns(first).chars().take(10).collect::<String>()}
                        " – "
                        {crate::model::format_time_ns(last).chars().take(10).collect::<String>()}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let slow_rows = detail
        .slowest
        .into_iter()
        .map(|run| {
            let at = run.day_ns;
            view! {
                <tr class="task-stats__slow">
                    <td class="num">
                        <a href=run.href()>{format_duration_ns(run.duration_ns)}</a>
                    </td>
                    <td>
                        <code>{run.version.clone()}</code>
                    </td>
                    <td>{if run.failed { "failed" } else { "computed" }}</td>
                    <td>{format!("attempt {}", run.attempt)}</td>
                    <td>{run.runner}</td>
                    <td class="muted">
                        {move || clock.format(at).chars().take(10).collect::<String>()}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {banner}
        <table class="job-table task-stats__table">
            <thead>
                <tr>
                    <th>"Version"</th>
                    {figure_headers()}
                    <th>"Runs per day"</th>
                    <th>"p95 per day"</th>
                    <th>"Ran"</th>
                </tr>
            </thead>
            <tbody>
                <tr class="task-stats__all">
                    <td>"all versions"</td>
                    {figure_cells(&task.stats)}
                    <td>
                        <RunBars days=task.days.clone() />
                    </td>
                    <td>
                        <P95Line days=task.days />
                    </td>
                    <td></td>
                </tr>
                {version_rows}
            </tbody>
        </table>
        <h2>"Slowest runs"</h2>
        <table class="job-table task-stats__slowest">
            <thead>
                <tr>
                    <th class="num">"Duration"</th>
                    <th>"Version"</th>
                    <th>"Ended"</th>
                    <th>"Attempt"</th>
                    <th>"Runner"</th>
                    <th>"Day"</th>
                </tr>
            </thead>
            <tbody>{slow_rows}</tbody>
        </table>
    }
}
