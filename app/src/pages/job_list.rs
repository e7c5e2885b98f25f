//! `/`: jobs newest first, one page at a time.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::jobs::list_jobs;
use crate::components::{ErrorNotice, JobTable};

#[component]
pub fn JobListPage() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("cursor");
    let page = Resource::new(cursor, list_jobs);
    let (filter, set_filter) = signal(String::new());
    view! {
        <Title text="Jobs" />
        <section class="job-list">
            <div class="job-list__head">
                <h1>"Jobs"</h1>
                <input
                    class="job-list__filter"
                    type="search"
                    placeholder="Filter this page by name"
                    aria-label="Filter this page by name"
                    prop:value=filter
                    on:input=move |ev| set_filter.set(event_target_value(&ev))
                />
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading jobs…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <JobTable page filter /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
