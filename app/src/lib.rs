//! The jobtrace dashboard: the Leptos app rendered by the server and hydrated in the browser.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
mod routes;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};

pub use routes::App;

/// The HTML document around the app, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <script inner_html=crate::components::THEME_SCRIPT></script>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Head elements every page shares.
#[component]
pub fn Head() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="jobtrace" href="/pkg/jobtrace.css" />
        <Title formatter=|page: String| format!("{page} · jobtrace") />
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
