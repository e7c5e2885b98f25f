//! Who may use the server: API tokens (`--api-token`) as `Authorization: Bearer` for gRPC,
//! OTLP and the REST API, and a signed session cookie for the dashboard after signing in with
//! a token. `/healthz`, the sign-in page and the static files it needs stay open.
//!
//! Tokens are kept only as SHA-256 digests and compared in constant time. A session cookie is
//! `v1.<expiry>.<mac>` with the MAC keyed by the token that signed in: sessions need no server
//! state, hold across restarts and replicas that share the tokens, and end when their token is
//! removed from the configuration.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Form;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The dashboard's session cookie.
pub const SESSION_COOKIE: &str = "jobtrace_session";

/// How long a dashboard session lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// The configured API tokens, `None` when there are none: then nothing is checked.
pub type SharedAuth = Option<std::sync::Arc<Auth>>;

/// The configured API tokens.
pub struct Auth {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens, not even their digests.
        write!(f, "Auth({} tokens)", self.digests.len())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthConfigError {
    #[error("an API token must be at least 16 characters long")]
    TooShort,
    #[error("an API token may not contain whitespace or control characters")]
    BadCharacter,
}

impl Auth {
    /// `None` when no token is configured: then nothing is checked.
    pub fn new<'a>(
        tokens: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<Self>, AuthConfigError> {
        let mut digests = Vec::new();
        for token in tokens {
            let token = token.trim();
            if token.is_empty() {
                continue;
            }
            if token.len() < 16 {
                return Err(AuthConfigError::TooShort);
            }
            if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(AuthConfigError::BadCharacter);
            }
            digests.push(digest(token));
        }
        Ok((!digests.is_empty()).then_some(Auth { digests }))
    }

    /// The index of the configured token `token` is, compared in constant time against all.
    fn token_index(&self, token: &str) -> Option<usize> {
        let presented = digest(token);
        let mut found = None;
        for (index, known) in self.digests.iter().enumerate() {
            if bool::from(known.ct_eq(&presented)) {
                found = Some(index);
            }
        }
        found
    }

    /// Whether `token` is one of the configured tokens.
    pub fn accepts(&self, token: &str) -> bool {
        self.token_index(token).is_some()
    }

    /// A session cookie value for someone who signed in with `token`, valid until `expiry`.
    fn session_for(&self, token: &str, expiry: u64) -> Option<String> {
        let index = self.token_index(token)?;
        Some(format!(
            "v1.{expiry}.{}",
            hex::encode(session_mac(&self.digests[index], expiry))
        ))
    }

    /// Whether `cookie` is a session that has not expired at `now` (seconds since the epoch).
    fn session_valid(&self, cookie: &str, now: u64) -> bool {
        let mut parts = cookie.split('.');
        let (Some("v1"), Some(expiry), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let (Ok(expiry), Ok(mac)) = (expiry.parse::<u64>(), hex::decode(mac)) else {
            return false;
        };
        if expiry <= now || mac.len() != 32 {
            return false;
        }
        let mut valid = false;
        for known in &self.digests {
            valid |= bool::from(session_mac(known, expiry).ct_eq(mac.as_slice()));
        }
        valid
    }

    /// Whether the request carries a configured token or a valid session.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if let Some(token) = bearer(headers) {
            return self.accepts(token);
        }
        session_cookie(headers).is_some_and(|cookie| self.session_valid(cookie, unix_now()))
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn session_mac(token_digest: &[u8; 32], expiry: u64) -> [u8; 32] {
    // The key is derived from the token (not the digest kept for comparisons), so knowing one
    // does not forge the other.
    let mut key = Sha256::new();
    key.update(b"jobtrace session key\0");
    key.update(token_digest);
    let key: [u8; 32] = key.finalize().into();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(&expiry.to_be_bytes());
    mac.finalize().into_bytes().into()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// Paths anyone may reach: the health check, the sign-in page and what it loads.
fn is_open(path: &str) -> bool {
    matches!(path, "/healthz" | "/signin" | "/signout" | "/favicon.svg")
        || path.starts_with("/pkg/")
}

/// The middleware in front of everything: passes what is allowed, turns the rest away in the
/// caller's own terms (gRPC status, sign-in redirect for a browser, JSON 401 otherwise).
pub async fn require(State(auth): State<SharedAuth>, request: Request, next: Next) -> Response {
    let Some(auth) = auth.as_deref() else {
        return next.run(request).await;
    };
    if is_open(request.uri().path()) || auth.allows(request.headers()) {
        return next.run(request).await;
    }
    deny(&request)
}

fn deny(request: &Request) -> Response {
    let headers = request.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let message = if bearer(headers).is_some() {
        "the API token is not valid"
    } else {
        "an API token is required: send Authorization: Bearer <token>"
    };
    if content_type.starts_with("application/grpc") {
        // A trailers-only gRPC response: UNAUTHENTICATED (16).
        let mut response = Response::new(Body::empty());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from_static("16"));
        headers.insert(
            "grpc-message",
            HeaderValue::from_static("the API token is missing or not valid"),
        );
        return response;
    }
    let wants_page = request.method() == axum::http::Method::GET
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if wants_page {
        let next = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let location = format!(
            "/signin?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish()
        );
        return (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    }
    let body = serde_json::json!({ "error": message });
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(body),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct SignInForm {
    token: String,
    next: Option<String>,
}

/// Only a path on this server: no scheme, no host, no `//host` or `/\host` tricks.
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => "/",
    }
}

/// `GET /signin`: the sign-in form.
pub async fn sign_in_page(
    State(auth): State<SharedAuth>,
    Query(query): Query<SignInQuery>,
) -> Response {
    if auth.is_none() {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    }
    sign_in_form(local_path(query.next.as_deref()), None)
}

/// `POST /signin`: a right token sets the session cookie and goes on to `next`.
pub async fn sign_in(State(auth): State<SharedAuth>, Form(form): Form<SignInForm>) -> Response {
    let next = local_path(form.next.as_deref());
    let Some(auth) = auth.as_deref() else {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, next.to_owned())]).into_response();
    };
    let expiry = unix_now() + SESSION_LIFETIME.as_secs();
    let Some(session) = auth.session_for(form.token.trim(), expiry) else {
        tracing::warn!("sign-in with a wrong token");
        return sign_in_form(next, Some("That token is not valid."));
    };
    let cookie = format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_LIFETIME.as_secs()
    );
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, next.to_owned()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

/// `POST /signout`: forgets the session cookie.
pub async fn sign_out() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/signin".to_owned()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

fn sign_in_form(next: &str, error: Option<&str>) -> Response {
    let next = app::security::escape_html(next);
    let error = error
        .map(|e| {
            format!(
                r#"<p class="signin__error" role="alert">{}</p>"#,
                app::security::escape_html(e)
            )
        })
        .unwrap_or_default();
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Sign in · jobtrace</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/pkg/jobtrace.css">
</head>
<body>
<main class="signin">
<h1>jobtrace</h1>
<form class="signin__form" method="post" action="/signin">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{next}">
<button type="submit">Sign in</button>
</form>
{error}
<p class="signin__hint">This server asks for one of the tokens it was started with (<code>--api-token</code>).</p>
</main>
</body>
</html>"#
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TOKEN: &str = "correct-horse-battery-staple";

    fn auth() -> Auth {
        Auth::new([TOKEN, "second-token-0123456789"])
            .unwrap()
            .unwrap()
    }

    #[test]
    fn test_no_token_means_no_auth_and_short_tokens_are_refused() {
        assert!(Auth::new([]).unwrap().is_none());
        assert!(Auth::new(["", "  "]).unwrap().is_none());
        assert_eq!(Auth::new(["short"]).unwrap_err(), AuthConfigError::TooShort);
        assert_eq!(
            Auth::new(["a token with spaces in it"]).unwrap_err(),
            AuthConfigError::BadCharacter
        );
    }

    #[test]
    fn test_only_configured_tokens_are_accepted() {
        let auth = auth();
        assert!(auth.accepts(TOKEN));
        assert!(auth.accepts("second-token-0123456789"));
        assert!(!auth.accepts("correct-horse-battery-stapl"));
        assert!(!auth.accepts(""));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {TOKEN}").parse().unwrap(),
        );
        assert!(auth.allows(&headers));
        headers.insert(
            header::AUTHORIZATION,
            "Bearer nope-nope-nope-nope".parse().unwrap(),
        );
        assert!(!auth.allows(&headers));
        assert!(!auth.allows(&HeaderMap::new()));
    }

    #[test]
    fn test_sessions_expire_and_cannot_be_forged() {
        let auth = auth();
        let session = auth.session_for(TOKEN, 2_000).unwrap();
        assert!(auth.session_valid(&session, 1_999));
        assert!(!auth.session_valid(&session, 2_000), "expired");
        // Moving the expiry breaks the MAC.
        let forged = session.replacen("2000", "9999", 1);
        assert!(!auth.session_valid(&forged, 1_000));
        assert!(auth.session_for("not-a-configured-token", 2_000).is_none());
        assert!(!auth.session_valid("v1.2000.00", 1_000));
        assert!(!auth.session_valid("garbage", 1_000));
        // A session of a token that is no longer configured is over.
        let other = Auth::new(["second-token-0123456789"]).unwrap().unwrap();
        assert!(!other.session_valid(&session, 1_000));
    }

    #[test]
    fn test_sign_in_only_returns_to_local_paths() {
        assert_eq!(local_path(Some("/jobs/abc?span=1")), "/jobs/abc?span=1");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
