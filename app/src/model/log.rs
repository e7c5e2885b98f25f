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

/// OTLP's severity bands (inclusive severity-number ranges) and their names: the one place
/// the server's filters, the gRPC log groups and the pages read them from.
pub const SEVERITY_BANDS: [(&str, i32, i32); 6] = [
    ("TRACE", 1, 4),
    ("DEBUG", 5, 8),
    ("INFO", 9, 12),
    ("WARN", 13, 16),
    ("ERROR", 17, 20),
    ("FATAL", 21, 24),
];

/// OTLP's name for a severity number's range.
pub fn severity_name(number: i32) -> &'static str {
    SEVERITY_BANDS
        .iter()
        .find(|(_, low, high)| (*low..=*high).contains(&number))
        .map_or("UNSPECIFIED", |(name, _, _)| name)
}

/// The severity-number range of a band's name, any case; `warning` and `critical` (Python's
/// logging names) count as WARN and FATAL.
pub fn severity_band(name: &str) -> Option<(i32, i32)> {
    let name = match name.trim().to_ascii_uppercase().as_str() {
        "WARNING" => "WARN".to_owned(),
        "CRITICAL" => "FATAL".to_owned(),
        other => other.to_owned(),
    };
    SEVERITY_BANDS
        .iter()
        .find(|(band, _, _)| *band == name)
        .map(|(_, low, high)| (*low, *high))
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

/// What the job page's Logs tab asks for: a trace's lines at or above a severity, containing a
/// text (case-insensitive), of one task (its `task_id`); empty fields filter nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLogQuery {
    /// OTLP severity number; 0 keeps all.
    pub floor: i32,
    pub text: String,
    pub task_id: String,
}

/// The longest text a log search may hold, in characters (it becomes one `LIKE` pattern; the
/// search box's `maxlength` counts the same way).
pub const MAX_LOG_SEARCH_CHARS: usize = 256;

/// One load of the Logs tab: the first [`PANEL_LOGS`] matching lines, and whether more match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobLogLines {
    pub lines: Vec<LogRecord>,
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_severity_bands_name_numbers_and_names_give_ranges() {
        assert_eq!(severity_name(9), "INFO");
        assert_eq!(severity_name(24), "FATAL");
        assert_eq!(severity_name(0), "UNSPECIFIED");
        assert_eq!(severity_band("warning"), Some((13, 16)));
        assert_eq!(severity_band("Error"), Some((17, 20)));
        assert_eq!(severity_band("critical"), Some((21, 24)));
        assert_eq!(severity_band("loud"), None);
    }
}
