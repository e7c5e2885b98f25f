//! The client: a connection to the server, and `jobs()` for everything about jobs.

mod automations;
mod connection;
mod jobs;
mod logs;
mod otlp;
mod spans;
mod storage;

pub use automations::{Automation, AutomationClient, CronSchedule};
pub use connection::Client;
pub use jobs::{Job, JobClient, JobProgress, JobQuery, JobState};
pub use logs::{LogLevel, LogQuery, LogRecord, Logs};
pub use spans::{Span, SpanEvent, Spans, StatusCode};
pub use storage::{StorageLocation, StorageLocationClient, StorageReference, StorageTrigger};
