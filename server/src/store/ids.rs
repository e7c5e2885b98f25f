//! Trace, span and job identifiers: fixed-size bytes, lowercase hex on the wire.

use std::fmt;

/// A W3C/OTLP trace id: 16 bytes, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// An OTLP span id: 8 bytes, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// From OTLP bytes; `None` for the wrong length or the invalid all-zero id.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let id: [u8; 16] = bytes.try_into().ok()?;
        (id != [0; 16]).then_some(TraceId(id))
    }

    pub fn parse_hex(text: &str) -> Option<Self> {
        let mut id = [0; 16];
        hex::decode_to_slice(text, &mut id).ok()?;
        (id != [0; 16]).then_some(TraceId(id))
    }

    /// A new random trace and root span id as a sampled W3C traceparent, with its trace id:
    /// for jobs submitted without a trace of their own.
    pub fn new_parent() -> (String, TraceId) {
        let trace = *uuid::Uuid::new_v4().as_bytes();
        let span = uuid::Uuid::new_v4();
        (
            format!(
                "00-{}-{}-01",
                hex::encode(trace),
                hex::encode(&span.as_bytes()[..8])
            ),
            TraceId(trace),
        )
    }
}

impl SpanId {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let id: [u8; 8] = bytes.try_into().ok()?;
        (id != [0; 8]).then_some(SpanId(id))
    }

    pub fn parse_hex(text: &str) -> Option<Self> {
        let mut id = [0; 8];
        hex::decode_to_slice(text, &mut id).ok()?;
        (id != [0; 8]).then_some(SpanId(id))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// How a user names a job: its UUID (with or without dashes) or its trace id (32 hex). Both are
/// 16 bytes; a job matches if either its id or its trace id equals them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRef(pub [u8; 16]);

impl JobRef {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(uuid) = uuid::Uuid::parse_str(text) {
            return Some(JobRef(*uuid.as_bytes()));
        }
        TraceId::parse_hex(text).map(|trace| JobRef(trace.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_zero_and_short_ids_are_invalid() {
        assert_eq!(TraceId::from_bytes(&[0; 16]), None);
        assert_eq!(TraceId::from_bytes(&[1; 15]), None);
        assert_eq!(SpanId::from_bytes(&[0; 8]), None);
        assert!(SpanId::from_bytes(&[1; 8]).is_some());
    }

    #[test]
    fn test_job_ref_accepts_uuid_and_trace_hex() {
        let dashed = JobRef::parse("0191e7a4-6c3b-7cc2-9d55-0a1b2c3d4e5f");
        let plain = JobRef::parse("0191e7a46c3b7cc29d550a1b2c3d4e5f");
        assert!(dashed.is_some());
        assert_eq!(dashed, plain);
        assert_eq!(JobRef::parse("nope"), None);
        assert_eq!(JobRef::parse(""), None);
    }

    #[test]
    fn test_hex_round_trip() {
        let trace = TraceId::parse_hex("5b8efff798038103d269b633813fc60c");
        assert_eq!(
            trace.map(|t| t.to_string()).as_deref(),
            Some("5b8efff798038103d269b633813fc60c")
        );
    }
}
