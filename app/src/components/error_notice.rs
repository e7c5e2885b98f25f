//! An error message in place of content that failed to load.

use leptos::prelude::*;

use crate::error::AppError;

#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    view! {
        <div class="error-notice" role="alert">
            <strong>"Could not load this: "</strong>
            {error.to_string()}
        </div>
    }
}
