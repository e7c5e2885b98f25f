//! Export files streamed page by page: a task reads a page, encodes it (`export.rs`) and hands
//! the bytes to the response, so an export holds one page in memory however large the file.

use std::sync::Arc;

use app::model::LogRecord;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::export::{FileEncoder, Format, Kind, Rows};
use crate::state::AppState;
use crate::store::{LogPageQuery, SharedStore, SpanId, SpanPageQuery, TraceId};

/// Most rows a file export holds.
const EXPORT_ROWS: usize = 1_000_000;
/// Most rows fetched, encoded and sent per step while exporting.
pub(super) const EXPORT_PAGE: u32 = 1_000;
/// Rows of the first step: its rows' size sets how many the next steps take.
pub(super) const EXPORT_FIRST_PAGE: u32 = 16;
/// About how much one step holds in memory: later steps take as many rows as fit (at least
/// one), so rows of megabytes are exported a few at a time.
const EXPORT_PAGE_BYTES: usize = 4 << 20;
/// Encoded pages waiting for a slow client before the export stops reading.
const EXPORT_AHEAD: usize = 2;

pub(super) fn file_response(name: &str, what: &str, format: Format, body: Body) -> Response {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{name}-{what}.{}\"",
        format.extension()
    );
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// Where an export's pages come from, each query keeping its own cursor.
pub(super) enum Source {
    Spans(Option<TraceId>, SpanPageQuery),
    Logs(Option<TraceId>, LogPageQuery),
}

impl Source {
    /// Encodes the next page (at most `room` rows of it); returns its bytes, how many rows it
    /// held and whether it was the last.
    async fn next_page(
        &mut self,
        store: &SharedStore,
        encoder: &mut FileEncoder,
        room: usize,
    ) -> Result<(Vec<u8>, usize, bool), String> {
        let (bytes, size, count, last) = match self {
            Source::Spans(trace_id, query) => {
                let asked = query.limit as usize;
                let page = store
                    .span_page(*trace_id, query)
                    .await
                    .map_err(|e| e.to_string())?;
                query.after = page
                    .last()
                    .and_then(|s| Some((s.start_ns, SpanId::parse_hex(&s.span_id)?)));
                let rows = &page[..page.len().min(room)];
                let (bytes, size) = encoder.page(Rows::Spans(rows)).map_err(|e| e.to_string())?;
                (bytes, size, rows.len(), page.len() < asked)
            }
            Source::Logs(trace_id, query) => {
                let asked = query.limit as usize;
                let page = store
                    .log_page(*trace_id, query)
                    .await
                    .map_err(|e| e.to_string())?;
                query.after = page.last().map(|(id, log)| (log.time_ns, *id));
                let logs: Vec<LogRecord> =
                    page.iter().take(room).map(|(_, log)| log.clone()).collect();
                let (bytes, size) = encoder.page(Rows::Logs(&logs)).map_err(|e| e.to_string())?;
                (bytes, size, logs.len(), page.len() < asked)
            }
        };
        // The next page holds about EXPORT_PAGE_BYTES of rows the size of these.
        let per_row = (size / count.max(1)).max(1);
        let next = (EXPORT_PAGE_BYTES / per_row).clamp(1, EXPORT_PAGE as usize);
        let next = u32::try_from(next).unwrap_or(EXPORT_PAGE);
        match self {
            Source::Spans(_, query) => query.limit = next,
            Source::Logs(_, query) => query.limit = next,
        }
        Ok((bytes, count, last))
    }
}

/// An export file as a streamed body: a task reads page after page and hands each page's bytes
/// over a channel of [`EXPORT_AHEAD`] pages, so a slow client holds back the reading instead
/// of the server buffering the file; a client that goes away stops it. At most
/// `--max-concurrent-exports` run at once (the permit travels with the task); more get 503.
pub(super) fn export_stream(
    state: &AppState,
    source: Source,
    format: Format,
) -> Result<Body, ApiError> {
    let permit = Arc::clone(&state.export_permits)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::Unavailable(
                "too many exports are running on this server; retry later".to_owned(),
            )
        })?;
    let kind = match source {
        Source::Spans(..) => Kind::Spans,
        Source::Logs(..) => Kind::Logs,
    };
    let (pages, received) =
        tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(EXPORT_AHEAD);
    let store = state.store.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let mut source = source;
        let mut encoder = FileEncoder::new(format, kind);
        let mut rows = 0;
        let finished: Result<(), String> = async {
            loop {
                let (bytes, count, last) = source
                    .next_page(&store, &mut encoder, EXPORT_ROWS - rows)
                    .await?;
                rows += count;
                if !bytes.is_empty() && pages.send(Ok(bytes.into())).await.is_err() {
                    return Ok(()); // the client went away
                }
                if last || rows >= EXPORT_ROWS {
                    break;
                }
            }
            let tail = encoder.finish().map_err(|e| e.to_string())?;
            let _ = pages.send(Ok(tail.into())).await;
            Ok(())
        }
        .await;
        if let Err(error) = finished {
            // The status line is sent: the client sees the download cut short.
            tracing::error!(%error, "export failed");
            let _ = pages.send(Err(std::io::Error::other(error))).await;
        }
    });
    let stream = futures::stream::unfold(received, |mut received| async move {
        received.recv().await.map(|page| (page, received))
    });
    // Fused: the response compression layer polls once more after the end.
    Ok(Body::from_stream(futures::StreamExt::fuse(stream)))
}
