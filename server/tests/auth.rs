//! API tokens: every way in is closed without one (gRPC, OTLP, REST, pages, server functions),
//! open with one, and the dashboard signs in with a token into a session cookie.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};

use common::{Reply, get, post, router, router_with_tokens, send, sqlite_store, trace_json};

const TOKEN: &str = "test-token-0123456789abcdef";
const TRACE: &str = "5b8efff798038103d269b633813fc60c";

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).unwrap()
}

fn spans() -> Vec<u8> {
    let spans = trace_json(
        TRACE,
        "runner-a",
        &[("00000000000000a1", None, "job/secret-job", 0, 100, 0)],
    );
    serde_json::to_vec(&spans).unwrap()
}

/// The job's spans sent with an `authorization` header.
async fn send_spans(app: &axum::Router, authorization: &str) -> Reply {
    let headers = [
        ("content-type", "application/json"),
        ("authorization", authorization),
    ];
    send(app, request("POST", "/v1/traces", &headers, spans())).await
}

#[tokio::test]
async fn test_without_a_token_nothing_gets_in() {
    let store = sqlite_store().await;
    let app = router_with_tokens(store.store.clone(), 1 << 20, &[TOKEN]);
    let bearer = format!("Bearer {TOKEN}");

    // OTLP: refused without, stored with the token.
    let refused = post(&app, "/v1/traces", "application/json", spans()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.json()["error"].as_str().unwrap().contains("token"));
    let wrong = send_spans(&app, "Bearer wrong-token-0000000000").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.json()["error"]
            .as_str()
            .unwrap()
            .contains("not valid")
    );
    assert_eq!(send_spans(&app, &bearer).await.status, StatusCode::OK);

    // REST: nothing is read without the token, not even through a server function.
    let list = get(&app, "/api/v1/jobs").await;
    assert_eq!(list.status, StatusCode::UNAUTHORIZED);
    assert!(!list.text().contains("secret-job"));
    let list = send(
        &app,
        request("GET", "/api/v1/jobs", &[("authorization", &bearer)], vec![]),
    )
    .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["jobs"][0]["name"], "secret-job");
    let server_fn = post(
        &app,
        "/api/get_job_trace",
        "application/x-www-form-urlencoded",
        b"id=x".to_vec(),
    )
    .await;
    assert_eq!(server_fn.status, StatusCode::UNAUTHORIZED);

    // gRPC: UNAUTHENTICATED in gRPC's own terms.
    let grpc = send(
        &app,
        request(
            "POST",
            "/workflows.v1.JobService/ListJobs",
            &[("content-type", "application/grpc"), ("te", "trailers")],
            vec![0, 0, 0, 0, 0],
        ),
    )
    .await;
    assert_eq!(grpc.status, StatusCode::OK);
    assert_eq!(grpc.header("grpc-status"), Some("16"));

    // A browser is sent to sign in, and comes back where it was going.
    let page = send(
        &app,
        request(
            "GET",
            &format!("/jobs/{TRACE}?span=00000000000000a1"),
            &[("accept", "text/html")],
            vec![],
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.header("location"),
        Some("/signin?next=%2Fjobs%2F5b8efff798038103d269b633813fc60c%3Fspan%3D00000000000000a1")
    );
    assert!(!page.text().contains("secret-job"));

    // The health check and the sign-in page stay open.
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
    let form = get(&app, "/signin?next=/jobs/x").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text().contains(r#"name="next" value="/jobs/x""#));
    store.teardown().await;
}

fn sign_in(
    app: &axum::Router,
    token: &str,
    next: &str,
) -> impl std::future::Future<Output = Reply> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("next", next)
        .finish();
    post(
        app,
        "/signin",
        "application/x-www-form-urlencoded",
        body.into_bytes(),
    )
}

#[tokio::test]
async fn test_the_dashboard_signs_in_with_a_token_and_out_again() {
    let store = sqlite_store().await;
    let app = router_with_tokens(
        store.store.clone(),
        1 << 20,
        &["another-token-0123456789", TOKEN],
    );
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(send_spans(&app, &bearer).await.status, StatusCode::OK);

    let wrong = sign_in(&app, "not-the-token-0123456789", "/").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("set-cookie").is_none());
    assert!(wrong.text().contains("not valid"));

    let link = format!("/jobs/{TRACE}?span=00000000000000a1");
    let signed = sign_in(&app, TOKEN, &link).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(
        signed.header("location"),
        Some(link.as_str()),
        "back to the shared link"
    );
    let cookie = signed.header("set-cookie").unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");
    let session = cookie.split(';').next().unwrap().to_owned();

    let page = send(
        &app,
        request(
            "GET",
            &link,
            &[("accept", "text/html"), ("cookie", &session)],
            vec![],
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("secret-job"));
    assert!(
        page.text().contains(r#"action="/signout""#),
        "a way to sign out"
    );

    // A forged or foreign cookie does not pass.
    let forged = session.replace("v1.", "v1.9");
    let page = send(
        &app,
        request("GET", "/api/v1/jobs", &[("cookie", &forged)], vec![]),
    )
    .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);

    // An open redirect is not on offer.
    let elsewhere = sign_in(&app, TOKEN, "//evil.example/").await;
    assert_eq!(elsewhere.header("location"), Some("/"));

    let out = post(
        &app,
        "/signout",
        "application/x-www-form-urlencoded",
        vec![],
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    store.teardown().await;
}

#[tokio::test]
async fn test_without_tokens_everything_is_open_and_public_addresses_are_refused() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), 1 << 20);
    assert_eq!(get(&app, "/api/v1/jobs").await.status, StatusCode::OK);
    let page = send(
        &app,
        request("GET", "/", &[("accept", "text/html")], vec![]),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text().contains(r#"action="/signout""#));
    store.teardown().await;

    let mut config = common::serve_config(&[]);
    config.addr = "0.0.0.0:3000".parse().unwrap();
    let refused = jobtrace::auth_from_config(&config).unwrap_err();
    assert!(
        refused.to_string().contains("--insecure-public"),
        "{refused}"
    );
    config.insecure_public = true;
    assert!(jobtrace::auth_from_config(&config).unwrap().is_none());
    let config = common::serve_config(&["short"]);
    assert!(
        jobtrace::auth_from_config(&config).is_err(),
        "tokens are long enough"
    );
}
