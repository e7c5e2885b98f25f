//! One behaviour suite for the trace store, run against SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use app::model::{JobListQuery, JobState, StatusCode};
use jobtrace::ingest::{logs_from_request, spans_from_request};
use jobtrace::store::{
    JobRef, LogPageQuery, SharedStore, SpanId, SpanPageQuery, StoreError, TraceId,
};

use common::{logs_json, logs_request, trace_json, trace_request};

const TRACE: &str = "5b8efff798038103d269b633813fc60c";

fn trace_id(hex: &str) -> TraceId {
    TraceId::parse_hex(hex).unwrap()
}

/// Every span of a trace, by start (one page).
async fn all_spans(store: &SharedStore, trace: &str) -> Vec<app::model::Span> {
    let query = SpanPageQuery {
        limit: 10_000,
        ..Default::default()
    };
    store
        .span_page(Some(trace_id(trace)), &query)
        .await
        .unwrap()
}

/// Every log record of a trace, by time (one page).
async fn all_logs(store: &SharedStore, trace: &str) -> Vec<app::model::LogRecord> {
    let query = LogPageQuery {
        limit: 10_000,
        ..Default::default()
    };
    let page = store.log_page(Some(trace_id(trace)), &query).await.unwrap();
    page.into_iter().map(|(_, log)| log).collect()
}

async fn write(store: &SharedStore, json: serde_json::Value) -> jobtrace::store::WriteSummary {
    store
        .write_spans(spans_from_request(&trace_request(&json)).batch)
        .await
        .unwrap()
}

async fn only_job(store: &SharedStore) -> app::model::Job {
    let page = store
        .list_jobs(&JobListQuery {
            cursor: None,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.jobs.len(), 1, "{:?}", page.jobs);
    page.jobs.into_iter().next().unwrap()
}

async fn spans_read_back_with_tree_attributes_and_resource(store: SharedStore) {
    let summary = write(
        &store,
        trace_json(
            TRACE,
            "runner-a",
            &[
                (
                    "00000000000000c1",
                    Some("00000000000000a1"),
                    "download-scene",
                    10,
                    40,
                    1,
                ),
                ("00000000000000a1", None, "job/process-scene", 0, 100, 0),
            ],
        ),
    )
    .await;
    assert_eq!((summary.written, summary.duplicates), (2, 0));
    let spans = all_spans(&store, TRACE).await;
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].name, "job/process-scene", "ordered by start");
    assert_eq!(spans[0].parent_span_id, None);
    assert_eq!(spans[1].parent_span_id.as_deref(), Some("00000000000000a1"));
    assert_eq!(spans[1].status_code, StatusCode::Ok);
    assert_eq!(spans[1].attributes["scene_id"], "S2A_001");
    assert_eq!(spans[1].resource["service.name"], "runner-a");
    assert_eq!(spans[1].resource["service.instance.id"], "instance-1");
    assert_eq!(spans[1].duration_ns(), 30_000_000);
}

async fn resent_span_is_not_duplicated(store: SharedStore) {
    let request = trace_json(
        TRACE,
        "svc",
        &[
            ("00000000000000a1", None, "job/x", 0, 100, 0),
            (
                "00000000000000a2",
                Some("00000000000000a1"),
                "child",
                5,
                50,
                2,
            ),
        ],
    );
    write(&store, request.clone()).await;
    let again = write(&store, request).await;
    assert_eq!((again.written, again.duplicates), (0, 2));
    let job = only_job(&store).await;
    assert_eq!((job.span_count, job.error_count), (2, 1));
    assert_eq!(store.stats().await.unwrap().spans, 2);

    let mixed = trace_json(
        TRACE,
        "svc",
        &[
            (
                "00000000000000a2",
                Some("00000000000000a1"),
                "child",
                5,
                50,
                2,
            ),
            (
                "00000000000000a3",
                Some("00000000000000a1"),
                "new-child",
                60,
                70,
                1,
            ),
            (
                "00000000000000a3",
                Some("00000000000000a1"),
                "new-child",
                60,
                70,
                1,
            ),
        ],
    );
    let summary = write(&store, mixed).await;
    assert_eq!((summary.written, summary.duplicates), (1, 2));
    let job = only_job(&store).await;
    assert_eq!((job.span_count, job.error_count), (3, 1));
}

/// Requests arriving together (committed as one group on SQLite, racing on PostgreSQL) that
/// overlap: every span is stored once and the job counts each once.
async fn concurrent_overlapping_requests_store_each_span_once(store: SharedStore) {
    let ids: Vec<String> = (1..=40).map(|i| format!("{i:016x}")).collect();
    let requests: Vec<serde_json::Value> = (0..8)
        .map(|r| {
            // Request r carries spans r*4 .. r*4+12: neighbours overlap by 8 spans.
            let spans: Vec<common::SpanSeed<'_>> = ids[r * 4..r * 4 + 12]
                .iter()
                .map(|id| {
                    (
                        id.as_str(),
                        Some("00000000000000ff"),
                        "task/Tile",
                        10,
                        20,
                        1,
                    )
                })
                .collect();
            trace_json(TRACE, "svc", &spans)
        })
        .collect();
    let results = futures::future::join_all(requests.into_iter().map(|json| {
        let store = store.clone();
        async move {
            let batch = spans_from_request(&trace_request(&json)).batch;
            store.write_spans(batch).await
        }
    }))
    .await;
    let written: u64 = results.into_iter().map(|r| r.unwrap().written).sum();
    assert_eq!(
        written, 40,
        "each distinct span written by exactly one request"
    );
    assert_eq!(store.stats().await.unwrap().spans, 40);
    assert_eq!(only_job(&store).await.span_count, 40);
}

async fn job_is_named_by_root_span_once_it_arrives(store: SharedStore) {
    write(
        &store,
        trace_json(
            TRACE,
            "svc",
            &[(
                "00000000000000b1",
                Some("00000000000000a1"),
                "task/Scan",
                20,
                60,
                0,
            )],
        ),
    )
    .await;
    let job = only_job(&store).await;
    assert_eq!(
        job.name, "task/Scan",
        "earliest span names a job without root"
    );
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.trace_id, TRACE);

    write(
        &store,
        trace_json(
            TRACE,
            "other-svc",
            &[("00000000000000a1", None, "job/nightly-scan", 0, 100, 0)],
        ),
    )
    .await;
    let job = only_job(&store).await;
    assert_eq!(job.name, "nightly-scan");
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(
        (job.start_ns, job.duration_ns(), job.span_count),
        (1_700_000_000_000_000_000, 100_000_000, 2)
    );
    assert_eq!(job.services, vec!["other-svc".to_owned(), "svc".to_owned()]);
}

fn task_span(trace: &str, id: &str, task_id: &str, start: u64, status: i32) -> serde_json::Value {
    let mut json = trace_json(
        trace,
        "svc",
        &[(
            id,
            Some("00000000000000a1"),
            "task/Tile",
            start,
            start + 10,
            status,
        )],
    );
    json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] =
        serde_json::json!([{"key": "task_id", "value": {"stringValue": task_id}}]);
    json
}

async fn failed_task_fails_job_unless_a_retry_succeeded(store: SharedStore) {
    let root = trace_json(
        TRACE,
        "svc",
        &[("00000000000000a1", None, "job/tiles", 0, 100, 0)],
    );
    write(&store, root).await;
    write(
        &store,
        task_span(TRACE, "00000000000000b1", "task-1", 10, 2),
    )
    .await;
    assert_eq!(only_job(&store).await.state, JobState::Failed);
    write(
        &store,
        task_span(TRACE, "00000000000000b2", "task-1", 30, 1),
    )
    .await;
    let job = only_job(&store).await;
    assert_eq!(job.state, JobState::Completed, "the retry succeeded");
    assert_eq!(
        job.error_count, 1,
        "the failed attempt still counts as an error"
    );
    write(
        &store,
        task_span(TRACE, "00000000000000b3", "task-2", 40, 2),
    )
    .await;
    assert_eq!(only_job(&store).await.state, JobState::Failed);
}

async fn failed_root_span_fails_job(store: SharedStore) {
    write(
        &store,
        trace_json(
            TRACE,
            "svc",
            &[("00000000000000a1", None, "job/x", 0, 100, 2)],
        ),
    )
    .await;
    assert_eq!(only_job(&store).await.state, JobState::Failed);
}

async fn job_list_pages_newest_first_without_gaps(store: SharedStore) {
    let mut traces = Vec::new();
    for i in 0..7u64 {
        let trace = format!("{:032x}", i + 1);
        // Two jobs share a start time: the cursor must still not skip or repeat either.
        let start = if i == 3 { 20 } else { i * 10 };
        write(
            &store,
            trace_json(
                &trace,
                "svc",
                &[(
                    "00000000000000a1",
                    None,
                    &format!("job/j{i}"),
                    start,
                    start + 5,
                    0,
                )],
            ),
        )
        .await;
        traces.push(trace);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_jobs(&JobListQuery {
                cursor: cursor.clone(),
                limit: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.jobs.iter().map(|j| (j.start_ns, j.name.clone())));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.0));
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        sorted.iter().map(|s| s.0).collect::<Vec<_>>()
    );
    let mut names: Vec<_> = seen.into_iter().map(|s| s.1).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 7, "no job repeated");

    let exact = store
        .list_jobs(&JobListQuery {
            cursor: None,
            limit: 7,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (exact.jobs.len(), exact.next_cursor),
        (7, None),
        "exactly one page has no next cursor"
    );

    let bad = store
        .list_jobs(&JobListQuery {
            cursor: Some("not-a-cursor".to_owned()),
            limit: 3,
            ..Default::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidCursor)), "{bad:?}");
}

/// Six jobs with distinct names, services, durations, states and error counts; returns their
/// names in start order.
async fn seed_filter_jobs(store: &SharedStore) -> Vec<String> {
    // (name, service, start_ms, duration_ms, root status, failed child)
    let jobs = [
        ("alpha-scan", "scanner", 0, 100, 1, false),
        ("beta-scan", "scanner", 10, 5_000, 1, true),
        ("gamma_ingest", "ingester", 20, 300, 2, false),
        ("delta-ingest", "ingester", 30, 50, 1, false),
        ("Epsilon-Scan", "scanner", 40, 2_000, 1, false),
        ("zeta 100%", "reporter", 50, 10, 1, false),
    ];
    for (i, (name, service, start, duration, status, failed_child)) in jobs.iter().enumerate() {
        let trace = format!("{:032x}", i + 100);
        let root = format!("job/{name}");
        let mut spans = vec![(
            "00000000000000a1",
            None,
            root.as_str(),
            *start,
            start + duration,
            *status,
        )];
        if *failed_child {
            spans.push((
                "00000000000000a2",
                Some("00000000000000a1"),
                "child",
                *start,
                start + 1,
                2,
            ));
        }
        write(store, trace_json(&trace, service, &spans)).await;
    }
    jobs.iter().map(|j| j.0.to_owned()).collect()
}

async fn listed(
    store: &SharedStore,
    params: &[(&str, &str)],
    sort: app::model::JobSort,
) -> Vec<String> {
    let filter = app::model::JobFilter::from_params(params.iter().copied()).unwrap();
    let page = store
        .list_jobs(&JobListQuery {
            filter,
            sort,
            cursor: None,
            limit: 100,
        })
        .await
        .unwrap();
    page.jobs.into_iter().map(|j| j.name).collect()
}

async fn job_list_filters_each_narrow_the_list(store: SharedStore) {
    use app::model::JobSort::{Longest, Newest};
    seed_filter_jobs(&store).await;
    let base: i64 = 1_700_000_000_000_000_000;
    let ms = |m: i64| (base + m * 1_000_000).to_string();
    assert_eq!(listed(&store, &[], Newest).await.len(), 6);
    assert_eq!(
        listed(&store, &[("name", "SCAN")], Newest).await,
        vec!["Epsilon-Scan", "beta-scan", "alpha-scan"]
    );
    assert_eq!(
        listed(&store, &[("name", "_")], Newest).await,
        vec!["gamma_ingest"],
        "LIKE wildcards are literal"
    );
    assert_eq!(
        listed(&store, &[("name", "100%")], Newest).await,
        vec!["zeta 100%"]
    );
    assert_eq!(
        listed(&store, &[("state", "failed")], Newest).await,
        vec!["gamma_ingest"],
        "a failed span that is no task does not fail its job"
    );
    assert_eq!(
        listed(&store, &[("state", "failed,completed")], Newest)
            .await
            .len(),
        6
    );
    assert_eq!(
        listed(&store, &[("service", "ingester")], Newest).await,
        vec!["delta-ingest", "gamma_ingest"]
    );
    assert!(
        listed(&store, &[("service", "ingest")], Newest)
            .await
            .is_empty(),
        "service matches whole names"
    );
    assert_eq!(
        listed(&store, &[("errors", "yes")], Newest).await,
        vec!["gamma_ingest", "beta-scan"]
    );
    assert_eq!(listed(&store, &[("errors", "no")], Newest).await.len(), 4);
    assert_eq!(
        listed(&store, &[("min_duration", "1")], Newest).await,
        vec!["Epsilon-Scan", "beta-scan"]
    );
    assert_eq!(
        listed(&store, &[("max_duration", "0.06")], Newest).await,
        vec!["zeta 100%", "delta-ingest"]
    );
    assert_eq!(
        listed(&store, &[("from", &ms(20)), ("to", &ms(40))], Newest).await,
        vec!["delta-ingest", "gamma_ingest"]
    );
    assert_eq!(
        listed(&store, &[("name", "scan")], Longest).await,
        vec!["beta-scan", "Epsilon-Scan", "alpha-scan"],
        "longest first"
    );
    assert_eq!(
        listed(&store, &[("cluster", "default")], Newest).await,
        Vec::<String>::new(),
        "no workflow jobs"
    );
    let counts = store
        .job_state_counts(
            &app::model::JobFilter::from_params([("name", "ingest"), ("state", "failed")]).unwrap(),
        )
        .await
        .unwrap();
    let counts: Vec<(JobState, i64)> = counts.iter().map(|c| (c.state, c.count)).collect();
    assert_eq!(
        counts,
        vec![(JobState::Completed, 1), (JobState::Failed, 1)],
        "counts ignore the state filter"
    );
}

async fn job_list_pages_by_duration_without_gaps(store: SharedStore) {
    use app::model::JobSort::Longest;
    let names = seed_filter_jobs(&store).await;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_jobs(&JobListQuery {
                filter: Default::default(),
                sort: Longest,
                cursor: cursor.clone(),
                limit: 4,
            })
            .await
            .unwrap();
        seen.extend(page.jobs.iter().map(|j| j.name.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![
            "beta-scan",
            "Epsilon-Scan",
            "gamma_ingest",
            "alpha-scan",
            "delta-ingest",
            "zeta 100%"
        ]
    );
    assert_eq!(seen.len(), names.len());
    // A cursor of one order is rejected by the other.
    let longest = store
        .list_jobs(&JobListQuery {
            filter: Default::default(),
            sort: Longest,
            cursor: None,
            limit: 1,
        })
        .await
        .unwrap()
        .next_cursor;
    let mixed = store
        .list_jobs(&JobListQuery {
            filter: Default::default(),
            sort: app::model::JobSort::Newest,
            cursor: longest,
            limit: 1,
        })
        .await;
    assert!(matches!(mixed, Err(StoreError::InvalidCursor)));
}

async fn spans_are_queried_across_traces_by_attribute_and_service(store: SharedStore) {
    for (i, (service, scene)) in [
        ("scanner", "S2A_001"),
        ("scanner", "S2A_002"),
        ("ingester", "S2A_001"),
    ]
    .iter()
    .enumerate()
    {
        let mut json = trace_json(
            &format!("{:032x}", i + 1),
            service,
            &[("00000000000000b1", None, "job/scan", i as u64, 10, 1)],
        );
        json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = serde_json::json!([
            {"key": "scene_id", "value": {"stringValue": scene}},
            {"key": "retries", "value": {"intValue": "2"}},
            {"key": "ratio", "value": {"doubleValue": 0.5}},
            {"key": "dry_run", "value": {"boolValue": true}}
        ]);
        write(&store, json).await;
    }
    let query =
        |attributes: &[(&str, &str)], service: Option<&str>| jobtrace::store::SpanPageQuery {
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            service: service.map(str::to_owned),
            limit: 100,
            ..Default::default()
        };
    let count = |q: jobtrace::store::SpanPageQuery| {
        let store = store.clone();
        async move { store.span_page(None, &q).await.unwrap().len() }
    };
    assert_eq!(count(query(&[], None)).await, 3);
    assert_eq!(count(query(&[("scene_id", "S2A_001")], None)).await, 2);
    assert_eq!(
        count(query(&[("scene_id", "S2A_001")], Some("ingester"))).await,
        1
    );
    assert_eq!(
        count(query(
            &[("retries", "2"), ("ratio", "0.5"), ("dry_run", "true")],
            None
        ))
        .await,
        3,
        "typed values compare as text alike on both backends"
    );
    assert_eq!(count(query(&[("dry_run", "1")], None)).await, 0);
    assert_eq!(count(query(&[("missing", "x")], None)).await, 0);
}

/// A page of spans across traces without a time bound (PostgreSQL reads it in growing windows
/// of time: `PostgresStore::select_span_rows`) holds the same spans, in the same order, as one
/// read would: spans minutes, days and months apart, followed page by page through the cursor,
/// with a name filter, and with only an upper bound.
async fn spans_across_traces_without_a_time_bound_page_in_order(store: SharedStore) {
    const HOUR_MS: u64 = 3_600_000;
    let traces = [
        "0af7651916cd43dd8448eb211c80319c",
        "1af7651916cd43dd8448eb211c80319c",
        "2af7651916cd43dd8448eb211c80319c",
    ];
    // (hours after the first span, name): within the first windows and far past them.
    let at: [(u64, &str); 9] = [
        (0, "tile-a"),
        (0, "other"),
        (1, "other"),
        (5, "tile-b"),
        (30, "other"),
        (62, "tile-c"),
        (100, "other"),
        (400, "tile-d"),
        (2_000, "other"),
    ];
    let ids: Vec<String> = (0..at.len()).map(|i| format!("{:016x}", i + 1)).collect();
    for (i, (hours, name)) in at.iter().enumerate() {
        let start = hours * HOUR_MS + i as u64;
        let seed: common::SpanSeed<'_> = (ids[i].as_str(), None, name, start, start + 1, 1);
        write(&store, trace_json(traces[i % 3], "svc", &[seed])).await;
    }
    let page_through = |query: jobtrace::store::SpanPageQuery| {
        let store = store.clone();
        async move {
            let mut names = Vec::new();
            let mut query = query;
            loop {
                let page = store.span_page(None, &query).await.unwrap();
                names.extend(page.iter().map(|span| span.name.clone()));
                let Some(last) = page.last().filter(|_| page.len() == query.limit as usize) else {
                    return names;
                };
                let id = jobtrace::store::SpanId::parse_hex(&last.span_id).unwrap();
                query.after = Some((last.start_ns, id));
            }
        }
    };
    let every = jobtrace::store::SpanPageQuery {
        limit: 2,
        ..Default::default()
    };
    let names: Vec<&str> = at.iter().map(|(_, name)| *name).collect();
    assert_eq!(page_through(every.clone()).await, names);
    let tiles = jobtrace::store::SpanPageQuery {
        name: Some("TILE".into()),
        ..every.clone()
    };
    assert_eq!(
        page_through(tiles.clone()).await,
        ["tile-a", "tile-b", "tile-c", "tile-d"]
    );
    let one_page = jobtrace::store::SpanPageQuery {
        limit: 100,
        ..tiles.clone()
    };
    assert_eq!(store.span_page(None, &one_page).await.unwrap().len(), 4);
    let base: i64 = 1_700_000_000_000_000_000;
    let before_day_three = jobtrace::store::SpanPageQuery {
        to_ns: Some(base + 48 * 3_600_000_000_000),
        ..every
    };
    assert_eq!(
        page_through(before_day_three).await,
        ["tile-a", "other", "other", "tile-b", "other"]
    );
}

async fn span_and_log_pages_filter_by_name_status_time_severity_and_text(store: SharedStore) {
    let spans: Vec<(String, String)> = (0..12u64)
        .map(|i| {
            (
                format!("{:016x}", i + 1),
                format!("{}-{i}", if i % 4 == 0 { "Upload" } else { "step" }),
            )
        })
        .collect();
    let seeds: Vec<common::SpanSeed<'_>> = spans
        .iter()
        .enumerate()
        .map(|(i, (id, name))| {
            (
                id.as_str(),
                None,
                name.as_str(),
                i as u64 * 10,
                i as u64 * 10 + 5,
                if i % 3 == 0 { 2 } else { 1 },
            )
        })
        .collect();
    write(&store, trace_json(TRACE, "svc", &seeds)).await;
    let logs: Vec<(&str, &str, u64, i32, &str)> = spans
        .iter()
        .enumerate()
        .map(|(i, (id, _))| {
            (
                TRACE,
                id.as_str(),
                i as u64 * 10,
                if i % 2 == 0 { 17 } else { 9 },
                if i % 2 == 0 { "Disk FULL" } else { "ok" },
            )
        })
        .collect();
    store
        .write_logs(logs_from_request(&logs_request(&logs_json(&logs))).batch)
        .await
        .unwrap();
    let trace = Some(trace_id(TRACE));
    let base: i64 = 1_700_000_000_000_000_000;
    let span_count = |q: jobtrace::store::SpanPageQuery| {
        let store = store.clone();
        async move { store.span_page(trace, &q).await.unwrap().len() }
    };
    let q = jobtrace::store::SpanPageQuery {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(span_count(q.clone()).await, 12);
    assert_eq!(
        span_count(jobtrace::store::SpanPageQuery {
            name: Some("upload".into()),
            ..q.clone()
        })
        .await,
        3
    );
    assert_eq!(
        span_count(jobtrace::store::SpanPageQuery {
            status: Some(2),
            ..q.clone()
        })
        .await,
        4
    );
    assert_eq!(
        span_count(jobtrace::store::SpanPageQuery {
            from_ns: Some(base + 20_000_000),
            to_ns: Some(base + 50_000_000),
            ..q.clone()
        })
        .await,
        3
    );
    let log_count = |q: jobtrace::store::LogPageQuery| {
        let store = store.clone();
        async move { store.log_page(trace, &q).await.unwrap().len() }
    };
    let q = jobtrace::store::LogPageQuery {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(log_count(q.clone()).await, 12);
    assert_eq!(
        log_count(jobtrace::store::LogPageQuery {
            severities: vec![(17, 20)],
            ..q.clone()
        })
        .await,
        6
    );
    assert_eq!(
        log_count(jobtrace::store::LogPageQuery {
            text: Some("disk full".into()),
            ..q.clone()
        })
        .await,
        6
    );
    assert_eq!(
        log_count(jobtrace::store::LogPageQuery {
            service: Some("svc".into()),
            ..q.clone()
        })
        .await,
        12
    );
    assert_eq!(
        log_count(jobtrace::store::LogPageQuery {
            from_ns: Some(base + 100_000_000),
            ..q.clone()
        })
        .await,
        2
    );
    // Keyset: the page after the fifth record holds the other seven.
    let first = store
        .log_page(
            trace,
            &jobtrace::store::LogPageQuery {
                limit: 5,
                ..q.clone()
            },
        )
        .await
        .unwrap();
    let last = first.last().map(|(id, log)| (log.time_ns, *id));
    assert_eq!(
        log_count(jobtrace::store::LogPageQuery { after: last, ..q }).await,
        7
    );
}

async fn empty_store_lists_nothing(store: SharedStore) {
    let page = store
        .list_jobs(&JobListQuery {
            cursor: None,
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.jobs.is_empty());
    assert_eq!(page.next_cursor, None);
    assert_eq!(
        store.stats().await.unwrap(),
        app::model::Stats {
            jobs: 0,
            spans: 0,
            logs: 0
        }
    );
}

async fn job_is_found_by_uuid_or_trace_id(store: SharedStore) {
    write(
        &store,
        trace_json(
            TRACE,
            "svc",
            &[("00000000000000a1", None, "job/x", 0, 100, 0)],
        ),
    )
    .await;
    let job = only_job(&store).await;
    let by_uuid = store
        .find_job(JobRef::parse(&job.id).unwrap())
        .await
        .unwrap();
    let by_trace = store.find_job(JobRef::parse(TRACE).unwrap()).await.unwrap();
    assert_eq!(by_uuid.as_ref(), Some(&job));
    assert_eq!(by_trace.as_ref(), Some(&job));
    let missing = store
        .find_job(JobRef::parse(&"ab".repeat(16)).unwrap())
        .await
        .unwrap();
    assert_eq!(missing, None);
}

async fn logs_read_back_by_trace_in_time_order(store: SharedStore) {
    let other = "0000000000000000000000000000abcd";
    let request = logs_json(&[
        (TRACE, "00000000000000a1", 30, 17, "second <b>not html</b>"),
        (TRACE, "00000000000000a1", 10, 9, "first"),
        (other, "00000000000000a1", 20, 9, "other trace"),
        ("", "", 40, 9, "no trace at all"),
    ]);
    let summary = store
        .write_logs(logs_from_request(&logs_request(&request)).batch)
        .await
        .unwrap();
    assert_eq!(summary.written, 4);
    let logs = all_logs(&store, TRACE).await;
    let bodies: Vec<_> = logs.iter().map(|l| l.body.as_str()).collect();
    assert_eq!(bodies, vec!["first", "second <b>not html</b>"]);
    assert_eq!(logs[0].span_id.as_deref(), Some("00000000000000a1"));
    assert_eq!(logs[1].severity_number, 17);
    assert_eq!(logs[1].resource["service.name"], "svc");
    assert_eq!(store.stats().await.unwrap().logs, 4);
}

/// A runner is named by the process its resource describes (`host.name:process.pid`), which a
/// user can find; without those, by `service.instance.id`.
async fn runners_are_named_by_host_and_pid(store: SharedStore) {
    let mut request = trace_json(
        TRACE,
        "runner-a",
        &[("00000000000000a1", None, "task/Download", 0, 100, 0)],
    );
    request["resourceSpans"][0]["resource"]["attributes"]
        .as_array_mut()
        .unwrap()
        .extend([
            serde_json::json!({"key": "host.name", "value": {"stringValue": "node-7"}}),
            serde_json::json!({"key": "process.pid", "value": {"intValue": "4242"}}),
        ]);
    write(&store, request).await;
    let outline = store.trace_outline(trace_id(TRACE)).await.unwrap();
    assert_eq!(outline[0].runner, "node-7:4242");
}

/// What the job page loads first: each span's skeleton (with its runner from the resource, its
/// task from the `task_id` attribute, whether it has events) and where each log line is; then
/// one span whole and one span's lines on demand.
async fn outline_marks_and_details_on_demand(store: SharedStore) {
    let mut request = trace_json(
        TRACE,
        "runner-a",
        &[
            ("00000000000000a1", None, "job/process-scene", 0, 100, 0),
            (
                "00000000000000c1",
                Some("00000000000000a1"),
                "task/Download",
                10,
                40,
                2,
            ),
        ],
    );
    let task = &mut request["resourceSpans"][0]["scopeSpans"][0]["spans"][1];
    task["attributes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"key": "task_id", "value": {"stringValue": "0190e0a4-0000-7000-8000-000000000001"}}));
    task["events"] =
        serde_json::json!([{"timeUnixNano": "1700000000020000000", "name": "exception"}]);
    write(&store, request).await;
    let outline = store.trace_outline(trace_id(TRACE)).await.unwrap();
    assert_eq!(outline.len(), 2);
    let (root, download) = (&outline[0], &outline[1]);
    assert_eq!(root.name, "job/process-scene", "by start time");
    assert_eq!((root.task_id.as_deref(), root.has_events), (None, false));
    assert_eq!(download.parent_span_id.as_deref(), Some("00000000000000a1"));
    assert_eq!(download.status_code, StatusCode::Error);
    assert_eq!(download.duration_ns(), 30_000_000);
    assert_eq!(
        (download.service.as_str(), download.runner.as_str()),
        ("runner-a", "instance-1")
    );
    assert_eq!(
        download.task_id.as_deref(),
        Some("0190e0a4-0000-7000-8000-000000000001")
    );
    assert!(download.has_events);

    let logs = logs_json(&[
        (TRACE, "00000000000000c1", 30, 17, "download failed"),
        (TRACE, "00000000000000a1", 10, 9, "job started"),
        (TRACE, "", 20, 13, "between spans"),
        (
            "0000000000000000000000000000abcd",
            "00000000000000c1",
            5,
            9,
            "other trace",
        ),
    ]);
    store
        .write_logs(logs_from_request(&logs_request(&logs)).batch)
        .await
        .unwrap();
    let marks = store.trace_log_marks(trace_id(TRACE)).await.unwrap();
    let marks: Vec<(Option<&str>, i32)> = marks
        .iter()
        .map(|m| (m.span_id.as_deref(), m.severity_number))
        .collect();
    assert_eq!(
        marks,
        vec![
            (Some("00000000000000a1"), 9),
            (None, 13),
            (Some("00000000000000c1"), 17)
        ]
    );

    let one = |span: &str| SpanPageQuery {
        span_ids: vec![SpanId::parse_hex(span).unwrap()],
        limit: 10,
        ..SpanPageQuery::default()
    };
    let whole = store
        .span_page(Some(trace_id(TRACE)), &one("00000000000000c1"))
        .await
        .unwrap();
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].events[0].name, "exception");
    assert_eq!(whole[0].attributes["scene_id"], "S2A_001");
    let lines = |query: LogPageQuery| {
        let store = store.clone();
        async move {
            store
                .log_page(Some(trace_id(TRACE)), &query)
                .await
                .unwrap()
                .into_iter()
                .map(|(_, log)| log.body)
                .collect::<Vec<_>>()
        }
    };
    let of_download = LogPageQuery {
        span_ids: vec![SpanId::parse_hex("00000000000000c1").unwrap()],
        limit: 10,
        ..LogPageQuery::default()
    };
    assert_eq!(lines(of_download).await, vec!["download failed"]);
    let both = LogPageQuery {
        span_ids: ["00000000000000c1", "00000000000000a1"]
            .iter()
            .map(|id| SpanId::parse_hex(id).unwrap())
            .collect(),
        limit: 10,
        ..LogPageQuery::default()
    };
    assert_eq!(lines(both).await, vec!["job started", "download failed"]);
    let outside = LogPageQuery {
        unattached: true,
        limit: 10,
        ..LogPageQuery::default()
    };
    assert_eq!(lines(outside).await, vec!["between spans"]);
}

/// A job span and two `tile` spans under it (every span with `scene_id=S2A_001`, the second
/// tile with `attributes` instead): what the attribute and value searches look through.
fn tile_trace(attributes: serde_json::Value) -> serde_json::Value {
    let mut request = trace_json(
        TRACE,
        "runner-a",
        &[
            ("00000000000000a1", None, "job/x", 0, 100, 0),
            (
                "00000000000000c1",
                Some("00000000000000a1"),
                "tile",
                10,
                20,
                1,
            ),
            (
                "00000000000000c2",
                Some("00000000000000a1"),
                "tile",
                30,
                40,
                1,
            ),
        ],
    );
    request["resourceSpans"][0]["scopeSpans"][0]["spans"][2]["attributes"] = attributes;
    request
}

/// A search's `key=value` terms: a span attribute or its resource's, compared as text, every
/// term at once.
async fn spans_match_attribute_terms_on_span_or_resource(store: SharedStore) {
    let request = tile_trace(serde_json::json!([
        {"key": "scene_id", "value": {"stringValue": "S2B_002"}},
        {"key": "retries", "value": {"intValue": "2"}},
        {"key": "final", "value": {"boolValue": true}}
    ]));
    write(&store, request).await;
    let found = |terms: &[(&str, &str)]| {
        let store = store.clone();
        let terms: Vec<(String, String)> = terms
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        async move {
            store
                .span_ids_with_attributes(trace_id(TRACE), &terms)
                .await
                .unwrap()
        }
    };
    let (a1, c1, c2) = ("00000000000000a1", "00000000000000c1", "00000000000000c2");
    assert_eq!(found(&[("scene_id", "S2A_001")]).await, vec![a1, c1]);
    assert_eq!(
        found(&[("retries", "2")]).await,
        vec![c2],
        "a number as text"
    );
    assert_eq!(
        found(&[("final", "true")]).await,
        vec![c2],
        "a boolean as text"
    );
    assert_eq!(
        found(&[("service.instance.id", "instance-1")]).await,
        vec![a1, c1, c2],
        "resource attributes too"
    );
    assert_eq!(
        found(&[("service.name", "runner-a"), ("scene_id", "S2B_002")]).await,
        vec![c2],
        "every term"
    );
    assert!(found(&[("scene_id", "nope")]).await.is_empty());
    assert!(found(&[("missing", "x")]).await.is_empty());
}

/// A search's bare terms: some attribute value (or resource attribute value) contains the text,
/// case aside; numbers and booleans as text; keys are not values.
async fn spans_match_text_in_attribute_values(store: SharedStore) {
    let request = tile_trace(serde_json::json!([
        {"key": "scene_id", "value": {"stringValue": "S2B_002 Ünïcode"}},
        {"key": "retries", "value": {"intValue": "7340"}},
        {"key": "final", "value": {"boolValue": true}},
        {"key": "bands", "value": {"arrayValue": {"values": [{"stringValue": "nir-b08"}]}}}
    ]));
    write(&store, request).await;
    let found = |text: &'static str| {
        let store = store.clone();
        async move {
            store
                .span_ids_with_value(trace_id(TRACE), text)
                .await
                .unwrap()
        }
    };
    let (a1, c1, c2) = ("00000000000000a1", "00000000000000c1", "00000000000000c2");
    assert_eq!(found("s2a_0").await, vec![a1, c1], "any case");
    assert_eq!(found("S2B").await, vec![c2]);
    assert_eq!(found("734").await, vec![c2], "a number as text");
    assert_eq!(found("true").await, vec![c2], "a boolean as text");
    assert_eq!(found("nir-b0").await, vec![c2], "inside an array");
    assert_eq!(found("ünï").await, vec![c2], "case aside beyond ASCII too");
    assert_eq!(
        found("instance-1").await,
        vec![a1, c1, c2],
        "resource attribute values too"
    );
    assert!(found("scene_id").await.is_empty(), "keys are not values");
    assert!(found("nope").await.is_empty());
    assert!(found("nul\0").await.is_empty());
}

/// How many of `states` are each state, in state order.
fn tally(states: impl IntoIterator<Item = JobState>) -> Vec<(JobState, i64)> {
    let mut counts: Vec<(JobState, i64)> = Vec::new();
    for job_state in states {
        match counts.iter_mut().find(|(state, _)| *state == job_state) {
            Some((_, n)) => *n += 1,
            None => counts.push((job_state, 1)),
        }
    }
    counts.sort_by_key(|(state, _)| state.code());
    counts
}

/// The chips the store answers for `params`.
async fn chips(store: &SharedStore, params: &[(&str, &str)]) -> Vec<(JobState, i64)> {
    let filter = app::model::JobFilter::from_params(params.iter().copied()).unwrap();
    let counts = store.job_state_counts(&filter).await.unwrap();
    counts.iter().map(|c| (c.state, c.count)).collect()
}

/// Every state's count among the jobs the list finds for `params` (the state filter left out,
/// as the chips leave it), counted here from the listed jobs.
async fn counted_in_list(store: &SharedStore, params: &[(&str, &str)]) -> Vec<(JobState, i64)> {
    let params: Vec<(&str, &str)> = params
        .iter()
        .copied()
        .filter(|(k, _)| *k != "state")
        .collect();
    let listed = listed_in_pages(store, &params, app::model::JobSort::Newest, 100).await;
    tally(listed.into_iter().map(|job| job.state))
}

/// Every state's count, from the listed jobs.
async fn counted(store: &SharedStore) -> Vec<(JobState, i64)> {
    counted_in_list(store, &[]).await
}

/// The chips of the unfiltered list, from the counts the triggers keep.
async fn kept(store: &SharedStore) -> Vec<(JobState, i64)> {
    chips(store, &[]).await
}

/// The chips of the unfiltered list (counts kept by triggers, PostgreSQL's deltas folded or
/// not) equal a count of the jobs as jobs arrive, change state and go; the name search (a
/// trigram index on SQLite) follows a job renamed by its root span and forgets a deleted one.
async fn kept_state_counts_and_name_search_follow_every_change(store: SharedStore) {
    assert_eq!(kept(&store).await, vec![]);
    seed_filter_jobs(&store).await;
    assert_eq!(kept(&store).await, counted(&store).await);
    assert_eq!(
        kept(&store).await,
        vec![(JobState::Completed, 5), (JobState::Failed, 1)]
    );
    store.fold_job_state_counts().await.unwrap();
    assert_eq!(kept(&store).await, counted(&store).await, "after a fold");

    // A running job named by its earliest span, renamed and completed by its root.
    let trace = "000000000000000000000000000000f1";
    let child = (
        "00000000000000b1",
        Some("00000000000000a1"),
        "task/Mosaic",
        20,
        60,
        0,
    );
    write(&store, trace_json(trace, "svc", &[child])).await;
    assert_eq!(kept(&store).await, counted(&store).await);
    assert!(kept(&store).await.contains(&(JobState::Running, 1)));
    assert_eq!(
        listed(&store, &[("name", "mosaic")], app::model::JobSort::Newest).await,
        vec!["task/Mosaic"]
    );
    let root = ("00000000000000a1", None, "job/Weekly-Composite", 0, 100, 0);
    write(&store, trace_json(trace, "svc", &[root])).await;
    assert_eq!(kept(&store).await, counted(&store).await);
    assert_eq!(
        kept(&store).await,
        vec![(JobState::Completed, 6), (JobState::Failed, 1)]
    );
    assert!(
        listed(&store, &[("name", "mosaic")], app::model::JobSort::Newest)
            .await
            .is_empty(),
        "the old name is not found"
    );
    assert_eq!(
        listed(
            &store,
            &[("name", "COMPOSITE")],
            app::model::JobSort::Newest
        )
        .await,
        vec!["Weekly-Composite"],
        "the new one is, in any case"
    );
    assert_eq!(
        chips(&store, &[("name", "composite")]).await,
        vec![(JobState::Completed, 1)]
    );

    // Every job deleted (retention): nothing counted, nothing found.
    while store.prune_step(i64::MAX, 1000).await.unwrap().is_some() {}
    assert_eq!(kept(&store).await, vec![]);
    assert_eq!(counted(&store).await, vec![]);
    assert!(
        listed(&store, &[("name", "scan")], app::model::JobSort::Newest)
            .await
            .is_empty()
    );
    store.fold_job_state_counts().await.unwrap();
    assert_eq!(kept(&store).await, vec![]);
}

/// Every job the list finds for `params` and `sort`, following the cursor in pages of `limit`.
async fn listed_in_pages(
    store: &SharedStore,
    params: &[(&str, &str)],
    sort: app::model::JobSort,
    limit: u32,
) -> Vec<app::model::Job> {
    let filter = app::model::JobFilter::from_params(params.iter().copied()).unwrap();
    let (mut jobs, mut cursor) = (Vec::new(), None);
    loop {
        let page = store
            .list_jobs(&JobListQuery {
                filter: filter.clone(),
                sort,
                cursor,
                limit,
            })
            .await
            .unwrap();
        jobs.extend(page.jobs);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return jobs,
        }
    }
}

/// For each filter the job list offers, with each service: the pages (newest and longest
/// first, followed by cursor two jobs at a time) and the chips equal the same filter without
/// the service, narrowed to the jobs whose services include it.
async fn check_service_filters(store: &SharedStore, when: &str) {
    use app::model::JobSort::{Longest, Newest};
    let base: i64 = 1_700_000_000_000_000_000;
    let (from, to) = (base + 5_000_000, base + 35_000_000);
    let (from, to) = (from.to_string(), to.to_string());
    let filters: [&[(&str, &str)]; 8] = [
        &[],
        &[("errors", "yes")],
        &[("errors", "no")],
        &[("state", "failed")],
        &[("state", "running,completed")],
        &[("name", "scan")],
        &[("from", &from), ("to", &to)],
        &[("min_duration", "0.2"), ("max_duration", "3")],
    ];
    for service in ["scanner", "ingester", "reporter", "nobody"] {
        for params in filters {
            let mut with_service = params.to_vec();
            with_service.push(("service", service));
            for sort in [Newest, Longest] {
                let expected: Vec<String> = listed_in_pages(store, params, sort, 100)
                    .await
                    .into_iter()
                    .filter(|job| job.services.iter().any(|s| s == service))
                    .map(|job| job.id)
                    .collect();
                let found: Vec<String> = listed_in_pages(store, &with_service, sort, 2)
                    .await
                    .into_iter()
                    .map(|job| job.id)
                    .collect();
                assert_eq!(found, expected, "{when}: {with_service:?}, {sort:?}");
            }
            let chip_params: Vec<(&str, &str)> = params
                .iter()
                .copied()
                .filter(|(k, _)| *k != "state")
                .collect();
            let listed = listed_in_pages(store, &chip_params, Newest, 100).await;
            let expected = tally(
                listed
                    .into_iter()
                    .filter(|job| job.services.iter().any(|s| s == service))
                    .map(|job| job.state),
            );
            let chips = chips(store, &with_service).await;
            assert_eq!(chips, expected, "{when}: chips of {with_service:?}");
        }
    }
}

/// The service filter reads the job–service rows that triggers keep (migration 0013), not
/// `jobs`: its pages and chips follow jobs that gain a service, start earlier, fail, get a
/// name, and go.
async fn service_filter_follows_every_change(store: SharedStore) {
    seed_filter_jobs(&store).await;
    check_service_filters(&store, "seeded").await;
    // Epsilon-Scan (trace 104, starts at 40 ms) gets an earlier span from the ingester and a
    // failed one: a second service, a new start (its place in the order), an error.
    let epsilon = format!("{:032x}", 104);
    let spans = [
        (
            "00000000000000c1",
            Some("00000000000000a1"),
            "early",
            5,
            6,
            0,
        ),
        (
            "00000000000000c2",
            Some("00000000000000a1"),
            "broken",
            41,
            42,
            2,
        ),
    ];
    write(&store, trace_json(&epsilon, "ingester", &spans)).await;
    let listed = listed(
        &store,
        &[("service", "ingester")],
        app::model::JobSort::Newest,
    )
    .await;
    assert_eq!(listed, vec!["delta-ingest", "gamma_ingest", "Epsilon-Scan"]);
    check_service_filters(&store, "a second service, an earlier start, an error").await;
    // A running job (no root yet) of the reporter, then its root completes it.
    let trace = "000000000000000000000000000000f2";
    let child = (
        "00000000000000b1",
        Some("00000000000000a1"),
        "task/Tile",
        60,
        70,
        0,
    );
    write(&store, trace_json(trace, "reporter", &[child])).await;
    check_service_filters(&store, "running").await;
    let root = ("00000000000000a1", None, "job/Tiles", 55, 80, 0);
    write(&store, trace_json(trace, "reporter", &[root])).await;
    check_service_filters(&store, "completed").await;
    // Retention deletes every job: no service finds any.
    while store.prune_step(i64::MAX, 1000).await.unwrap().is_some() {}
    for service in ["scanner", "ingester", "reporter"] {
        let params = [("service", service)];
        assert!(
            listed_in_pages(&store, &params, app::model::JobSort::Newest, 10)
                .await
                .is_empty()
        );
        let filter = app::model::JobFilter::from_params(params).unwrap();
        assert!(store.job_state_counts(&filter).await.unwrap().is_empty());
    }
}

/// The chips of every window whose ends lie on, next to and between minute and hour boundaries
/// (open ends too), alone and with each errors filter, equal a count of the listed jobs.
async fn check_window_chips(store: &SharedStore, when: &str) {
    let base: i64 = 1_700_000_000_000_000_000; // a minute starts 40 s later, an hour 2,800 s
    let ms = |offset: i64| (base + offset * 1_000_000).to_string();
    let mut points: Vec<Option<String>> = [
        0, 39_999, 40_000, 2_700_000, 2_800_000, 6_400_001, 86_400_000,
    ]
    .into_iter()
    .map(|offset| Some(ms(offset)))
    .collect();
    points.push(Some((base + 40_000_000_001).to_string()));
    points.push(Some("0".to_owned()));
    points.push(None);
    for from in &points {
        for to in &points {
            for errors in [None, Some("yes"), Some("no")] {
                let mut params: Vec<(&str, &str)> = Vec::new();
                if let Some(from) = from {
                    params.push(("from", from));
                }
                if let Some(to) = to {
                    params.push(("to", to));
                }
                if let Some(errors) = errors {
                    params.push(("errors", errors));
                }
                params.push(("state", "failed")); // the chips count every state regardless
                let chips = chips(store, &params).await;
                assert_eq!(
                    chips,
                    counted_in_list(store, &params).await,
                    "{when}: {params:?}"
                );
            }
        }
    }
}

/// The chips of a time window (kept per minute and hour of the jobs' starts, migration 0015)
/// follow jobs that start earlier across a minute and an hour boundary, gain an error, finish
/// and are deleted; on PostgreSQL before and after the deltas are folded.
async fn window_chips_follow_every_change(store: SharedStore) {
    // (start offset in ms, root status or none: running, a failed child)
    let jobs: [(u64, Option<i32>, bool); 9] = [
        (0, Some(1), false),
        (39_999, Some(1), false),
        (40_000, Some(2), false),
        (100_000, Some(1), true),
        (2_799_999, Some(1), false),
        (2_800_000, Some(1), true),
        (2_800_001, Some(1), false),
        (6_400_000, None, false),
        (90_000_000, Some(1), false),
    ];
    let trace = |i: usize| format!("{:032x}", i + 300);
    for (i, (start, root, failed_child)) in jobs.iter().enumerate() {
        let mut spans = vec![(
            "00000000000000a2",
            Some("00000000000000a1"),
            "child",
            *start,
            start + 5,
            if *failed_child { 2 } else { 1 },
        )];
        if let Some(status) = root {
            spans.push((
                "00000000000000a1",
                None,
                "job/windowed",
                *start,
                start + 10,
                *status,
            ));
        }
        write(&store, trace_json(&trace(i), "svc", &spans)).await;
    }
    check_window_chips(&store, "seeded").await;
    store.fold_job_state_counts().await.unwrap();
    check_window_chips(&store, "seeded, folded").await;

    // Earlier spans: job 2 into the minute before, job 5 into the hour before; job 0 fails.
    let early = |start: u64| {
        (
            "00000000000000b1",
            Some("00000000000000a1"),
            "early",
            start,
            start + 1,
            1,
        )
    };
    write(&store, trace_json(&trace(2), "svc", &[early(39_000)])).await;
    write(&store, trace_json(&trace(5), "svc", &[early(2_700_000)])).await;
    let broken = (
        "00000000000000b2",
        Some("00000000000000a1"),
        "broken",
        1,
        2,
        2,
    );
    write(&store, trace_json(&trace(0), "svc", &[broken])).await;
    check_window_chips(&store, "earlier starts, an error").await;
    store.fold_job_state_counts().await.unwrap();
    check_window_chips(&store, "earlier starts, an error, folded").await;

    // The running job's root completes it; two servers fold at once (one may fail, as a
    // deadlock PostgreSQL breaks; the next tick folds what it left).
    let root = (
        "00000000000000a1",
        None,
        "job/windowed",
        6_400_000,
        6_400_010,
        1,
    );
    write(&store, trace_json(&trace(7), "svc", &[root])).await;
    check_window_chips(&store, "completed").await;
    let _ = tokio::join!(store.fold_job_state_counts(), store.fold_job_state_counts());
    check_window_chips(&store, "completed, two folds at once").await;
    store.fold_job_state_counts().await.unwrap();

    // Retention deletes every job: every window is empty, the folded counts too.
    while store.prune_step(i64::MAX, 1000).await.unwrap().is_some() {}
    check_window_chips(&store, "deleted").await;
    store.fold_job_state_counts().await.unwrap();
    let everything = app::model::JobFilter::from_params([("from", "0")]).unwrap();
    assert!(
        store
            .job_state_counts(&everything)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Rows of `table` in the store at `url`.
async fn rows_in(url: &str, table: &str) -> i64 {
    use sqlx::Connection;
    let sql = format!("SELECT count(*) FROM {table}");
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap()
    }
}

/// A bucket of the window counts that falls to zero is deleted (by the trigger on SQLite, by
/// the fold on PostgreSQL): the table does not keep the minutes of jobs that finished or went.
async fn no_start_bucket_stays_at_zero(test_store: common::TestStore) {
    let store = test_store.store.clone();
    let running = (
        "00000000000000a2",
        Some("00000000000000a1"),
        "child",
        30_000,
        30_005,
        1,
    );
    for i in 0..5 {
        let trace = format!("{:032x}", i + 400);
        write(&store, trace_json(&trace, "svc", &[running])).await;
    }
    store.fold_job_state_counts().await.unwrap();
    // Five running jobs in one minute and one hour.
    assert_eq!(rows_in(&test_store.url, "job_start_counts").await, 2);
    for i in 0..5 {
        let trace = format!("{:032x}", i + 400);
        let root = ("00000000000000a1", None, "job/done", 30_000, 30_010, 1);
        write(&store, trace_json(&trace, "svc", &[root])).await;
    }
    store.fold_job_state_counts().await.unwrap();
    assert_eq!(
        rows_in(&test_store.url, "job_start_counts").await,
        2,
        "the running buckets went, the completed ones came"
    );
    while store.prune_step(i64::MAX, 1000).await.unwrap().is_some() {}
    store.fold_job_state_counts().await.unwrap();
    assert_eq!(rows_in(&test_store.url, "job_start_counts").await, 0);
    assert_eq!(rows_in(&test_store.url, "job_start_deltas").await, 0);
    test_store.teardown().await;
}

#[tokio::test]
async fn sqlite_no_start_bucket_stays_at_zero() {
    no_start_bucket_stays_at_zero(common::sqlite_store().await).await;
}

#[tokio::test]
async fn postgres_no_start_bucket_stays_at_zero() {
    no_start_bucket_stays_at_zero(common::postgres_store().await).await;
}

/// How often PostgreSQL has read `spans` whole and through each of its indexes, as its
/// statistics have it: (whole table, `spans_by_trace_start`, `spans_by_start`, primary key,
/// rows fetched by plain index scans of `spans_by_trace_start`: a bitmap scan, whose rows then
/// need a sort, fetches none).
async fn span_scans(db: &mut sqlx::PgConnection) -> (i64, i64, i64, i64, i64) {
    let (seq,): (i64,) =
        sqlx::query_as("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'spans'")
            .fetch_one(&mut *db)
            .await
            .unwrap();
    let index = |name: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = $1",
        )
        .bind(name)
    };
    let (fetched,): (i64,) = sqlx::query_as(
        "SELECT idx_tup_fetch FROM pg_stat_user_indexes \
         WHERE indexrelname = 'spans_by_trace_start'",
    )
    .fetch_one(&mut *db)
    .await
    .unwrap();
    (
        seq,
        index("spans_by_trace_start")
            .fetch_one(&mut *db)
            .await
            .unwrap(),
        index("spans_by_start").fetch_one(&mut *db).await.unwrap(),
        index("spans_pkey").fetch_one(&mut *db).await.unwrap(),
        fetched,
    )
}

/// PostgreSQL reads a trace's spans (a page of all of them, pages of 300 following the cursor,
/// the outline) from the index `spans_by_trace_start` in its order and nothing else: not the
/// whole table, not `spans_by_start` across other traces' spans, not the primary key and a
/// sort, not a bitmap scan of it and a sort. Among four other traces interleaved in time,
/// with the store just filled (no statistics, autovacuum kept off the table: the planner
/// sorted the primary key's rows incrementally) and after `ANALYZE`; the cursor's statement
/// runs eight times, past the five after which PostgreSQL may plan it generically. The counts
/// come from PostgreSQL's statistics, which each connection sends within seconds of a read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_a_trace_through_its_index_only() {
    use sqlx::Connection;
    let test_store = common::postgres_store().await;
    let store = test_store.store.clone();
    let mut db = sqlx::PgConnection::connect(&test_store.url).await.unwrap();
    sqlx::query("ALTER TABLE spans SET (autovacuum_enabled = false)")
        .execute(&mut db)
        .await
        .unwrap();
    let ids: Vec<String> = (1..=2_000).map(|i| format!("{i:016x}")).collect();
    for trace in 0..5u64 {
        let seeds: Vec<common::SpanSeed<'_>> = ids
            .iter()
            .zip(0u64..)
            .map(|(id, i)| {
                (
                    id.as_str(),
                    None,
                    "work",
                    i * 5 + trace,
                    i * 5 + trace + 3,
                    0,
                )
            })
            .collect();
        write(
            &store,
            trace_json(&format!("{:032x}", trace + 1), "svc", &seeds),
        )
        .await;
    }
    // Every write's statistics sent before the reads are counted: the rows inserted, then
    // the scans' counts unchanged for two seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (inserted,): (i64,) =
            sqlx::query_as("SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'spans'")
                .fetch_one(&mut db)
                .await
                .unwrap();
        if inserted == 10_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{inserted} inserts counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let mut settled = span_scans(&mut db).await;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let now = span_scans(&mut db).await;
        if now == settled {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scans' counts keep changing"
        );
        settled = now;
    }
    let trace = TraceId::parse_hex(&format!("{:032x}", 3)).unwrap();
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("ANALYZE spans").execute(&mut db).await.unwrap();
        }
        let before = span_scans(&mut db).await;
        let whole = SpanPageQuery {
            limit: 10_000,
            ..SpanPageQuery::default()
        };
        let all = store.span_rows(Some(trace), &whole).await.unwrap();
        assert_eq!(all.len(), 2_000);
        let mut reads = 1;
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let query = SpanPageQuery {
                limit: 300,
                after,
                ..SpanPageQuery::default()
            };
            let page = store.span_rows(Some(trace), &query).await.unwrap();
            reads += 1;
            let Some(last) = page.last() else { break };
            after = Some((
                last.start_ns,
                SpanId(last.span_id.clone().try_into().unwrap()),
            ));
            paged.extend(page);
        }
        assert_eq!(
            paged, all,
            "the pages hold the trace's spans in order, once each"
        );
        let outline = store.trace_outline(trace).await.unwrap();
        assert_eq!(outline.len(), 2_000);
        reads += 1;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let now = loop {
            let now = span_scans(&mut db).await;
            if now.1 - before.1 >= reads || std::time::Instant::now() > deadline {
                break now;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        let others = |at: (i64, i64, i64, i64, i64)| (at.0, at.2, at.3);
        // 2,000 rows for the whole page, as many over the pages, and the outline's 2,000.
        assert!(
            now.1 - before.1 >= reads && others(now) == others(before) && now.4 - before.4 >= 6_000,
            "analyzed: {analyzed}; {reads} reads; (table, trace index, start index, primary \
             key scans, trace index rows fetched) before {before:?}, after {now:?}"
        );
    }
    test_store.teardown().await;
}

both_backends!(
    window_chips_follow_every_change,
    service_filter_follows_every_change,
    kept_state_counts_and_name_search_follow_every_change,
    spans_match_text_in_attribute_values,
    spans_read_back_with_tree_attributes_and_resource,
    resent_span_is_not_duplicated,
    concurrent_overlapping_requests_store_each_span_once,
    job_list_filters_each_narrow_the_list,
    spans_are_queried_across_traces_by_attribute_and_service,
    spans_across_traces_without_a_time_bound_page_in_order,
    span_and_log_pages_filter_by_name_status_time_severity_and_text,
    job_list_pages_by_duration_without_gaps,
    job_is_named_by_root_span_once_it_arrives,
    failed_task_fails_job_unless_a_retry_succeeded,
    failed_root_span_fails_job,
    job_list_pages_newest_first_without_gaps,
    empty_store_lists_nothing,
    job_is_found_by_uuid_or_trace_id,
    logs_read_back_by_trace_in_time_order,
    outline_marks_and_details_on_demand,
    runners_are_named_by_host_and_pid,
    spans_match_attribute_terms_on_span_or_resource,
);

/// `jobtrace backup` copies a live store while spans keep arriving: every span acknowledged
/// before the backup started is in the copy, no request is half in it, the copy passes
/// SQLite's integrity check and opens as a store of its own; the source keeps taking writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_a_live_sqlite_store_has_everything_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("live.db").display());
    let store = jobtrace::store::open(&url).await.unwrap();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, acked, stop) = (store.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut trace = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                trace += 1;
                let ids: Vec<String> = (1..=200).map(|i| format!("{i:016x}")).collect();
                let seeds: Vec<common::SpanSeed<'_>> = ids
                    .iter()
                    .map(|id| (id.as_str(), None, "work", 0, 5, 0))
                    .collect();
                let json = trace_json(&format!("{trace:032x}"), "svc", &seeds);
                let written = store
                    .write_spans(spans_from_request(&trace_request(&json)).batch)
                    .await
                    .unwrap()
                    .written;
                acked.fetch_add(written, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 2_000 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before = acked.load(std::sync::atomic::Ordering::SeqCst);
    let copy = dir.path().join("copy.db");
    let bytes = jobtrace::store::backup(&url, &copy).await.unwrap();
    let after = acked.load(std::sync::atomic::Ordering::SeqCst);
    // The source keeps taking writes once the copy is made.
    while acked.load(std::sync::atomic::Ordering::SeqCst) <= after {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();
    assert!(bytes > 0);

    let check = sqlx::sqlite::SqlitePoolOptions::new()
        .connect(&format!("sqlite:{}?mode=ro", copy.display()))
        .await
        .unwrap();
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&check)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    check.close().await;
    let restored = jobtrace::store::open(&format!("sqlite:{}", copy.display()))
        .await
        .unwrap();
    let spans = u64::try_from(restored.stats().await.unwrap().spans).unwrap();
    assert!(
        spans >= before,
        "{spans} spans in the copy, {before} acknowledged before it"
    );
    assert_eq!(spans % 200, 0, "no request is half in the copy: {spans}");

    // A copy never overwrites, and PostgreSQL stores are pg_dump's.
    let again = jobtrace::store::backup(&url, &copy).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let postgres =
        jobtrace::store::backup("postgres://localhost/x", &dir.path().join("pg.db")).await;
    assert!(
        matches!(postgres, Err(StoreError::InvalidArgument(_))),
        "{postgres:?}"
    );
}
