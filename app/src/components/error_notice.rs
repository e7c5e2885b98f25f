//! A failed load, said in words; on the server the page's HTTP status says it too.

use leptos::prelude::*;

use crate::error::AppError;

#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
    }
    view! {
        <div class="error-notice" role="alert">
            <strong>"Could not load this: "</strong>
            {error.to_string()}
        </div>
    }
}
