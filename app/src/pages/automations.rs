//! `/automations`: the cron automations, what each submits, when it runs next, and the latest
//! jobs it submitted (each a link, by the tick it ran for).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::automations::list_automations;
use crate::components::{ErrorNotice, JobStateBadge, use_clock};
use crate::model::AutomationView;

#[component]
pub fn AutomationsPage() -> impl IntoView {
    let automations = Resource::new(|| (), |()| list_automations());
    view! {
        <Title text="Automations" />
        <section class="automations">
            <h1>"Automations"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading automations…"</p> }>
                {move || Suspend::new(async move {
                    match automations.await {
                        Ok(list) => view! { <AutomationTable automations=list /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AutomationTable(automations: Vec<AutomationView>) -> impl IntoView {
    let clock = use_clock();
    if automations.is_empty() {
        return view! {
            <p class="automations__empty">
                "No automations. Create one with "
                <code>"client.automations().create_cron_automation(name, task, \"0 * * * *\")"</code>
                "; each tick submits the task as a job."
            </p>
        }
        .into_any();
    }
    let rows = automations
        .into_iter()
        .map(|automation| {
            let next = automation.next_run_ns();
            let schedules = automation
                .triggers
                .iter()
                .map(|t| view! { <code class="automations__schedule">{t.schedule.clone()}</code> })
                .collect_view();
            let on_storage = !automation.storage_triggers.is_empty();
            let globs = automation
                .storage_triggers
                .iter()
                .map(|t| {
                    view! {
                        <span class="automations__storage">
                            "new " <code>{t.glob.clone()}</code> " in "
                            <code>{t.location.clone()}</code>
                        </span>
                    }
                })
                .collect_view();
            let jobs = automation
                .recent_jobs
                .into_iter()
                .map(|job| {
                    let at = job.trigger_ns;
                    view! {
                        <li>
                            <a
                                href=format!("/jobs/{}", job.id)
                                class="automations__job"
                                title=move || format!("the job of the tick {}", clock.format(at))
                            >
                                <JobStateBadge state=job.state />
                                <span class="automations__tick">{move || clock.format(at)}</span>
                            </a>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <tr class="automations__row" data-automation-id=automation.id.clone()>
                    <td class="automations__name">
                        <strong>{automation.name.clone()}</strong>
                        <code class="muted">{automation.id.chars().take(8).collect::<String>()}</code>
                    </td>
                    <td>
                        <code>{automation.task.clone()}</code>
                    </td>
                    <td>{automation.cluster.clone()}</td>
                    <td>{schedules} {globs}</td>
                    <td class="automations__next">
                        {move || match next {
                            Some(ns) => clock.format(ns),
                            None if on_storage => "on a new object".to_owned(),
                            None => "never".to_owned(),
                        }}
                    </td>
                    <td>
                        <ul class="automations__jobs" aria-label="Latest jobs">
                            {jobs}
                        </ul>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="job-table automations__table">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Task"</th>
                    <th>"Cluster"</th>
                    <th>"Triggers (cron in UTC)"</th>
                    <th>"Next run"</th>
                    <th>"Latest jobs"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
