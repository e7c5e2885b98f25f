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
    let nonce = leptos::nonce::use_nonce();
    // The browser reads this to render the same topbar as the server (`components::signed_in`).
    let session_mark = crate::components::signed_in()
        .then(|| view! { <meta name="jobtrace-session" content="1" /> });
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <script nonce=nonce inner_html=crate::components::THEME_SCRIPT></script>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                {session_mark}
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
        <Title formatter=|page: String| page_title(&page) />
    }
}

/// The document title of a page. leptos_meta writes the server's `<title>` as it is given
/// (no escaping), and a job's name comes from a span name anyone can send: on the server the
/// title is escaped here; in the browser it is set as text and must not be.
fn page_title(page: &str) -> String {
    let title = format!("{page} · jobtrace");
    #[cfg(feature = "ssr")]
    let title = security::escape_html(&title);
    title
}

#[cfg(feature = "ssr")]
pub mod security {
    //! What the server adds to every page against injected content: escaping where a library
    //! writes raw text, and a Content-Security-Policy that runs only this page's own scripts.

    use leptos::prelude::use_context;

    pub use crate::model::escape_markup as escape_html;

    /// The policy of a rendered page (set by the server's `csp` middleware): scripts only from
    /// this origin or carrying the request's nonce (the hydration script, the theme script, resolved resources), WebAssembly
    /// compilation for the app itself, inline styles (bars are positioned by `style`), no
    /// plugins, frames, foreign forms or base URL changes.
    pub fn policy(nonce: Option<&str>) -> String {
        let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
        format!(
            "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
    }

    /// The script nonce the server chose for this request (`Parts` extension), provided to the
    /// app so its scripts carry the nonce the response's policy names. Call from the server's
    /// per-request context.
    pub fn provide_request_nonce() {
        let nonce = use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<leptos::nonce::Nonce>().cloned());
        if let Some(nonce) = nonce {
            leptos::prelude::provide_context(nonce);
        }
    }

    /// Whether a request that changes something (the job page's Retry and Cancel) came from a
    /// page of this server: a browser says where a request comes from (`Sec-Fetch-Site`, or
    /// `Origin` on a POST), and a page elsewhere must not make a signed-in browser, or any
    /// browser that reaches an open server, act on jobs. The session cookie is `SameSite=Strict`
    /// already; this also covers servers without a token. Requests without either header
    /// (scripts, curl) carry no ambient credentials a page could borrow and pass.
    pub fn same_origin(headers: &http::HeaderMap) -> bool {
        let text = |name: http::header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(site) = text(http::HeaderName::from_static("sec-fetch-site")) {
            return site == "same-origin" || site == "none";
        }
        match (text(http::header::ORIGIN), text(http::header::HOST)) {
            (None, _) => true,
            (Some(origin), Some(host)) => origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority == host),
            (Some(_), None) => false,
        }
    }

    /// Refuses a request [`same_origin`] does not accept, read from the server function's
    /// request.
    pub fn require_same_origin() -> Result<(), crate::error::AppError> {
        let parts = use_context::<http::request::Parts>();
        match parts {
            Some(parts) if same_origin(&parts.headers) => Ok(()),
            _ => Err(crate::error::AppError::BadRequest(
                "this action must come from the jobtrace dashboard itself".to_owned(),
            )),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        http::HeaderName::from_static(k),
                        http::HeaderValue::from_str(v)
                            .unwrap_or(http::HeaderValue::from_static("")),
                    )
                })
                .collect()
        }

        #[test]
        fn test_only_pages_of_this_server_may_act() {
            assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
            assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
            assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
            let host = ("host", "127.0.0.1:8080");
            assert!(same_origin(&headers(&[
                host,
                ("origin", "http://127.0.0.1:8080")
            ])));
            assert!(!same_origin(&headers(&[
                host,
                ("origin", "http://evil.example")
            ])));
            assert!(!same_origin(&headers(&[host, ("origin", "null")])));
            assert!(!same_origin(&headers(&[(
                "origin",
                "http://127.0.0.1:8080"
            )])));
            // Neither header: not a browser page's request.
            assert!(same_origin(&headers(&[host])));
        }

        #[test]
        fn test_escape_html_leaves_no_markup() {
            let escaped = escape_html("</title><script>alert('x' & \"y\")</script>");
            assert_eq!(
                escaped,
                "&lt;/title&gt;&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"
            );
        }

        #[test]
        fn test_policy_allows_only_nonce_scripts() {
            let policy = policy(Some("abc"));
            let scripts = policy
                .split(';')
                .find(|directive| directive.trim().starts_with("script-src"))
                .unwrap_or_default();
            assert_eq!(
                scripts.trim(),
                "script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"
            );
            assert!(policy.contains("object-src 'none'"));
        }
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
