//! The topbar's "Sign out", shown when the page was opened in a dashboard session.

use leptos::prelude::*;

/// Whether this page is shown in a signed-in session. The server sees the session cookie (which
/// the auth middleware has already checked); the browser cannot read that HttpOnly cookie and
/// reads the mark the server left in the document head instead, so both render the same.
pub fn signed_in() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .any(|value| value.contains(SESSION_MARK))
        })
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        document()
            .query_selector("meta[name=jobtrace-session]")
            .ok()
            .flatten()
            .is_some()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        false
    }
}

/// The session cookie's name followed by `=` (the server's `auth::SESSION_COOKIE`).
#[cfg(feature = "ssr")]
const SESSION_MARK: &str = "jobtrace_session=";

#[component]
pub fn SignOut() -> impl IntoView {
    signed_in().then(|| {
        view! {
            <form class="topbar__signout" method="post" action="/signout">
                <button type="submit" class="topbar__signout-button">
                    "Sign out"
                </button>
            </form>
        }
    })
}
