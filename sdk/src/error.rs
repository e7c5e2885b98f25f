//! The SDK's errors: what a client call or a runner can fail with, and what a task fails with.

use std::fmt;

/// A failed client or runner operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server URL could not be parsed or connected to.
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    /// The server answered with an error (or could not be reached for this call).
    #[error("{operation}: {status}")]
    Status {
        operation: &'static str,
        #[source]
        status: Box<tonic::Status>,
    },
    /// A task's input could not be encoded or decoded as JSON.
    #[error("task input of {task}: {source}")]
    Input {
        task: String,
        #[source]
        source: serde_json::Error,
    },
    /// The server sent something this client does not understand.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// Telemetry exporters could not be set up.
    #[error("telemetry: {0}")]
    Telemetry(String),
    /// A task submission was invalid before it reached the server.
    #[error("invalid submission: {0}")]
    Submission(String),
}

impl Error {
    pub(crate) fn status(operation: &'static str) -> impl FnOnce(tonic::Status) -> Error {
        move |status| Error::Status {
            operation,
            status: Box::new(status),
        }
    }

    /// The gRPC status code, for errors the server answered.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Status { status, .. } => Some(status.code()),
            _ => None,
        }
    }
}

/// Why a task failed. Converts from any error type (`?` works on them), keeping the type's name
/// for the exception recorded on the task's span; [`TaskError::msg`] makes one from text.
///
/// Like `anyhow::Error` it deliberately does not implement `std::error::Error` itself, so the
/// blanket conversion stays coherent.
pub struct TaskError {
    kind: String,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl TaskError {
    /// A failure described by text only (exception type `TaskError`).
    pub fn msg(message: impl Into<String>) -> Self {
        TaskError {
            kind: "TaskError".to_owned(),
            message: message.into(),
            source: None,
        }
    }

    /// A failure from a boxed error whose concrete type is no longer known.
    pub fn boxed(error: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        TaskError {
            kind: "Error".to_owned(),
            message: error_chain(error.as_ref()),
            source: Some(error),
        }
    }

    pub(crate) fn panic(message: String) -> Self {
        TaskError {
            kind: "panic".to_owned(),
            message,
            source: None,
        }
    }

    /// The exception type recorded on the span: the error's type name without its module path.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The message, including the error's sources (`outer: inner: …`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The original error, when the failure came from one.
    pub fn source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(error: E) -> Self {
        TaskError {
            kind: short_type_name(std::any::type_name::<E>()),
            message: error_chain(&error),
            source: Some(Box::new(error)),
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// `std::io::Error` → `Error`; generic arguments keep their own short names
/// (`my::Wrapper<other::Inner>` → `Wrapper<Inner>`).
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        if matches!(c, '<' | '>' | ',' | ' ' | '(' | ')' | '[' | ']' | ';' | '&') {
            out.push_str(last_segment(&full[segment_start..i]));
            out.push(c);
            segment_start = i + c.len_utf8();
        }
    }
    out.push_str(last_segment(&full[segment_start..]));
    out
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn test_task_error_keeps_type_name_and_sources() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "scene missing");
        let error = TaskError::from(io);
        assert_eq!(error.kind(), "Error");
        assert_eq!(error.message(), "scene missing");
        let parse = "x".parse::<i32>().map_err(TaskError::from).err();
        assert_eq!(
            parse.map(|e| e.kind().to_owned()).as_deref(),
            Some("ParseIntError")
        );
    }

    #[test]
    fn test_short_type_name_strips_paths_in_generics() {
        assert_eq!(
            short_type_name("a::b::Wrapper<c::Inner, d::E>"),
            "Wrapper<Inner, E>"
        );
        assert_eq!(short_type_name("Plain"), "Plain");
    }
}
