//! Log records as the dashboard sees them: whole, or only where they sit (marks), and severities.

use serde::{Deserialize, Serialize};

use super::Attributes;

/// Where a log record sits, without its body: the job page draws these as ticks on their span's
/// bar and counts them; bodies come for the selected span. A JSON array on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "MarkWire", from = "MarkWire")]
pub struct LogMark {
    pub span_id: Option<String>,
    pub time_ns: i64,
    pub severity_number: i32,
}

type MarkWire = (Option<String>, i64, i32);

impl From<LogMark> for MarkWire {
    fn from(m: LogMark) -> Self {
        (m.span_id, m.time_ns, m.severity_number)
    }
}

impl From<MarkWire> for LogMark {
    fn from(w: MarkWire) -> Self {
        LogMark {
            span_id: w.0,
            time_ns: w.1,
            severity_number: w.2,
        }
    }
}

impl LogMark {
    pub fn severity_label(&self) -> &'static str {
        severity_name(self.severity_number)
    }
}

/// OTLP's name for a severity number's range.
pub fn severity_name(number: i32) -> &'static str {
    match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => "UNSPECIFIED",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub time_ns: i64,
    pub severity_number: i32,
    pub severity_text: String,
    /// A string body as is; any other body as its JSON text.
    pub body: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub attributes: Attributes,
    pub resource: Attributes,
}

impl LogRecord {
    /// The severity's name, from the text if sent, else from the number's OTLP range.
    pub fn severity_label(&self) -> &str {
        if !self.severity_text.is_empty() {
            return &self.severity_text;
        }
        severity_name(self.severity_number)
    }
}

/// How many log lines the span panel loads at once.
pub const PANEL_LOGS: u32 = 5000;
