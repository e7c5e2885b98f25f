//! The 404 page, also shown for unknown job ids.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFoundPage(what: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <section class="not-found">
            <h1>"Not found"</h1>
            <p class="not-found__what">{format!("No {what} here.")}</p>
            <a href="/">"Back to the job list"</a>
        </section>
    }
}
