//! Live updates for the job page: `GET /api/v1/jobs/{id}/events`, a server-sent event stream.
//!
//! The stream sends `job` events (the job as `GET /api/v1/jobs/{id}` returns it) first on
//! connect and then whenever it changes (new spans, state, task counts), checked every
//! [`LIVE_INTERVAL`] (one store read shared by all streams of a job: `crate::live_jobs`); once the job is completed, failed or canceled it sends `done` and ends —
//! right away for a job that was finished when the stream opened, after [`LIVE_GRACE`] without
//! changes for one that finished while watched (its last spans are exported after the state
//! changed).
//! A connection ends after [`LIVE_CONNECTION`] anyway; browsers' EventSource reconnects by
//! itself (after the `retry` the stream announces), so a server shutdown never waits long.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;

use app::model::JobState;

use super::spans_logs::job_of;
use super::{ApiError, ApiJob};
use crate::state::AppState;
use crate::store::JobRef;

/// How often the store is asked whether the job changed.
pub const LIVE_INTERVAL: Duration = Duration::from_millis(500);
/// How long a job that finished while watched is still followed for late spans.
pub const LIVE_GRACE: Duration = Duration::from_secs(3);
/// How long one connection lasts before the client reconnects.
pub const LIVE_CONNECTION: Duration = Duration::from_secs(60);

struct Watch {
    /// This stream's place among `--max-live-streams`, given back when the stream ends or
    /// its client goes away.
    _permit: tokio::sync::OwnedSemaphorePermit,
    state: AppState,
    job: JobRef,
    last: Option<String>,
    finished: bool,
    /// Saw the job unfinished: its end is followed for [`LIVE_GRACE`].
    saw_running: bool,
    /// When the last change was sent.
    changed_at: tokio::time::Instant,
    done_sent: bool,
    first: bool,
    deadline: tokio::time::Instant,
}

pub(super) async fn job_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (job, _) = job_of(&state, &id).await?;
    let job = JobRef::parse(&job.id).ok_or(ApiError::Internal)?;
    let permit = std::sync::Arc::clone(&state.live_permits)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::Unavailable(
                "too many live streams are open on this server; retry later".to_owned(),
            )
        })?;
    let watch = Watch {
        _permit: permit,
        state,
        job,
        last: None,
        finished: false,
        saw_running: false,
        changed_at: tokio::time::Instant::now(),
        done_sent: false,
        first: true,
        deadline: tokio::time::Instant::now() + LIVE_CONNECTION,
    };
    let stream = futures::stream::unfold(watch, |mut watch| async move {
        if watch.done_sent || tokio::time::Instant::now() >= watch.deadline {
            return None;
        }
        if watch.finished && !watch.saw_running {
            watch.done_sent = true;
            return Some((Ok(Event::default().event("done").data("finished")), watch));
        }
        loop {
            if !std::mem::replace(&mut watch.first, false) {
                tokio::time::sleep(LIVE_INTERVAL).await;
            }
            if tokio::time::Instant::now() >= watch.deadline {
                return None;
            }
            // A store error or a job that vanished ends the stream; the client reconnects.
            let job = watch
                .state
                .live_jobs
                .job(&watch.state.store, watch.job)
                .await
                .ok()??;
            watch.finished = matches!(
                job.state,
                JobState::Completed | JobState::Failed | JobState::Canceled
            );
            watch.saw_running |= !watch.finished;
            let body = serde_json::to_string(&ApiJob::from(&job)).ok()?;
            if watch.last.as_deref() != Some(body.as_str()) {
                let event = Event::default()
                    .event("job")
                    .retry(Duration::from_secs(1))
                    .data(body.clone());
                watch.last = Some(body);
                watch.changed_at = tokio::time::Instant::now();
                return Some((Ok(event), watch));
            }
            if watch.finished && watch.changed_at.elapsed() >= LIVE_GRACE {
                watch.done_sent = true;
                return Some((Ok(Event::default().event("done").data("finished")), watch));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
