//! The route table.

use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::Head;
use crate::components::{SignOut, ThemeToggle, TimeToggle, provide_clock};
use crate::pages::{
    AutomationsPage, ComparePage, JobListPage, JobPage, NotFoundPage, TaskPage, TasksPage,
};

#[component]
pub fn App() -> impl IntoView {
    provide_clock();
    // Playwright waits for this marker before it clicks: effects run only once hydrated.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Head />
        <Router>
            <header class="topbar">
                <A href="/" attr:class="topbar__brand">
                    "jobtrace"
                </A>
                <nav class="topbar__nav">
                    <A href="/">"Jobs"</A>
                    <A href="/tasks">"Tasks"</A>
                    <A href="/automations">"Automations"</A>
                </nav>
                // A plain form: the server opens an id's job or searches names (`/go`).
                <form class="topbar__go" action="/go" method="get" role="search">
                    <input
                        type="search"
                        name="to"
                        aria-label="Go to a job or trace id, or search job names"
                        placeholder="Job or trace id, or name"
                        maxlength="1024"
                    />
                </form>
                <TimeToggle />
                <ThemeToggle />
                <SignOut />
            </header>
            <main class="main">
                // Async: the page is sent whole, so it reads without JavaScript and a
                // missing job can answer 404.
                <Routes fallback=|| view! { <NotFoundPage what="page".to_owned() /> }>
                    <Route path=path!("/") view=JobListPage ssr=SsrMode::Async />
                    <Route path=path!("/jobs/:id") view=JobPage ssr=SsrMode::Async />
                    <Route path=path!("/compare") view=ComparePage ssr=SsrMode::Async />
                    <Route path=path!("/automations") view=AutomationsPage ssr=SsrMode::Async />
                    <Route path=path!("/tasks") view=TasksPage ssr=SsrMode::Async />
                    <Route path=path!("/tasks/:name") view=TaskPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}
