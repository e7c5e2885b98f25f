//! What one OTLP request may cost before it is decoded: a pass over the raw bytes counts the
//! items (spans or log records) and all messages inside (attributes, events, values…) without
//! allocating any of them, so a request of 16 MB of empty spans is refused for what it holds
//! instead of growing into gigabytes of decoded structs.

/// Limits of one request's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Spans or log records.
    pub items: usize,
    /// Every message at any depth: items, resources, scopes, attributes, events, links, values.
    pub messages: usize,
}

/// The server's defaults, for tests of the counting alone.
#[cfg(test)]
impl Default for Budget {
    fn default() -> Self {
        Budget {
            items: crate::config::DEFAULT_MAX_ITEMS_PER_REQUEST,
            messages: crate::state::MAX_MESSAGES_PER_REQUEST,
        }
    }
}

/// What a request holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub items: usize,
    pub messages: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BudgetError {
    #[error("the request holds more than {limit} spans or log records; send smaller batches")]
    TooManyItems { limit: usize },
    #[error(
        "the request holds more than {limit} messages (attributes, events, values); send smaller batches"
    )]
    TooManyMessages { limit: usize },
    #[error("malformed protobuf body: {0}")]
    Malformed(&'static str),
    #[error("the request is nested more than {0} levels deep")]
    TooDeep(usize),
}

const MAX_DEPTH: usize = 64;

/// The message types of OTLP trace and log requests, as far as they hold other messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    ResourceItems,
    Resource,
    ScopeItems,
    Scope,
    Span,
    Event,
    Link,
    Log,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    /// A message without message fields we need to look into (status).
    Leaf,
}

impl Kind {
    /// The kind of message field `field` of this message holds, if it is one.
    fn child(self, field: u64) -> Option<Kind> {
        use Kind::*;
        Some(match (self, field) {
            (Request, 1) => ResourceItems,
            (ResourceItems, 1) => Resource,
            (ResourceItems, 2) => ScopeItems,
            (Resource | KeyValueList, 1)
            | (Scope | Event, 3)
            | (Span, 9)
            | (Link, 4)
            | (Log, 6) => KeyValue,
            (ScopeItems, 1) => Scope,
            // ScopeSpans.spans and ScopeLogs.log_records are both field 2: the caller's signal
            // says which (see `count_protobuf`).
            (ScopeItems, 2) => Span,
            (Span, 11) => Event,
            (Span, 13) => Link,
            (Span, 15) => Leaf,
            (Log, 5) | (KeyValue, 2) | (ArrayValue, 1) => AnyValue,
            (AnyValue, 5) => ArrayValue,
            (AnyValue, 6) => KeyValueList,
            _ => return None,
        })
    }
}

/// Which OTLP signal a body carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Logs,
}

struct Walk {
    signal: Signal,
    budget: Budget,
    counted: Counted,
}

/// Counts the items and messages of a protobuf OTLP request, refusing it as soon as it goes
/// over `budget`.
pub fn count_protobuf(body: &[u8], signal: Signal, budget: Budget) -> Result<Counted, BudgetError> {
    let mut walk = Walk {
        signal,
        budget,
        counted: Counted::default(),
    };
    walk.message(body, Kind::Request, 0)?;
    Ok(walk.counted)
}

fn varint(bytes: &[u8], at: &mut usize) -> Result<u64, BudgetError> {
    let mut value: u64 = 0;
    for shift in 0..10 {
        let byte = *bytes
            .get(*at)
            .ok_or(BudgetError::Malformed("truncated varint"))?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << (shift * 7);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(BudgetError::Malformed("varint longer than 10 bytes"))
}

impl Walk {
    fn message(&mut self, bytes: &[u8], kind: Kind, depth: usize) -> Result<(), BudgetError> {
        if depth > MAX_DEPTH {
            return Err(BudgetError::TooDeep(MAX_DEPTH));
        }
        let mut at = 0;
        while at < bytes.len() {
            let key = varint(bytes, &mut at)?;
            let (field, wire_type) = (key >> 3, key & 7);
            match wire_type {
                0 => {
                    varint(bytes, &mut at)?;
                }
                1 => at += 8,
                5 => at += 4,
                2 => {
                    let len = usize::try_from(varint(bytes, &mut at)?)
                        .map_err(|_| BudgetError::Malformed("length too large"))?;
                    let end = at
                        .checked_add(len)
                        .filter(|end| *end <= bytes.len())
                        .ok_or(BudgetError::Malformed("length beyond the body"))?;
                    if let Some(child) = kind.child(field) {
                        let child = match (child, self.signal) {
                            (Kind::Span, Signal::Logs) => Kind::Log,
                            (child, _) => child,
                        };
                        self.count(child)?;
                        self.message(&bytes[at..end], child, depth + 1)?;
                    }
                    at = end;
                }
                _ => return Err(BudgetError::Malformed("unsupported wire type")),
            }
            if at > bytes.len() {
                return Err(BudgetError::Malformed("field beyond the body"));
            }
        }
        Ok(())
    }

    fn count(&mut self, kind: Kind) -> Result<(), BudgetError> {
        self.counted.messages += 1;
        if self.counted.messages > self.budget.messages {
            return Err(BudgetError::TooManyMessages {
                limit: self.budget.messages,
            });
        }
        if matches!(kind, Kind::Span | Kind::Log) {
            self.counted.items += 1;
            if self.counted.items > self.budget.items {
                return Err(BudgetError::TooManyItems {
                    limit: self.budget.items,
                });
            }
        }
        Ok(())
    }
}

/// Counts the items (objects in a `spans` or `logRecords` array) and objects of an OTLP/JSON
/// request, refusing it as soon as it goes over `budget`. Malformed JSON is left to the parser.
pub fn count_json(body: &[u8], budget: Budget) -> Result<Counted, BudgetError> {
    let mut counted = Counted::default();
    // Per open container: is it an array of items?
    let mut stack: Vec<bool> = Vec::new();
    // The last string closed, whether it named an item array, and whether a ':' followed it.
    let mut item_key = false;
    let mut after_item_key = false;
    let mut at = 0;
    while at < body.len() {
        let byte = body[at];
        match byte {
            b'"' => {
                let start = at + 1;
                at += 1;
                while at < body.len() && body[at] != b'"' {
                    at += if body[at] == b'\\' { 2 } else { 1 };
                }
                let text = body.get(start..at.min(body.len())).unwrap_or_default();
                item_key = if text.contains(&b'\\') {
                    // The parser reads keys unescaped: `"sp\u0061ns"` is `spans` to it (a raw
                    // comparison counted none of such a request's spans).
                    body.get(start - 1..=at)
                        .and_then(|quoted| serde_json::from_slice::<String>(quoted).ok())
                        .is_some_and(|key| key == "spans" || key == "logRecords")
                } else {
                    text == b"spans" || text == b"logRecords"
                };
                after_item_key = false;
            }
            b':' => {
                after_item_key = item_key;
                item_key = false;
            }
            b'[' => {
                stack.push(after_item_key);
                after_item_key = false;
            }
            b'{' => {
                counted.messages += 1;
                if counted.messages > budget.messages {
                    return Err(BudgetError::TooManyMessages {
                        limit: budget.messages,
                    });
                }
                if stack.last() == Some(&true) {
                    counted.items += 1;
                    if counted.items > budget.items {
                        return Err(BudgetError::TooManyItems {
                            limit: budget.items,
                        });
                    }
                }
                stack.push(false);
                after_item_key = false;
            }
            b']' | b'}' => {
                stack.pop();
                item_key = false;
                after_item_key = false;
            }
            b' ' | b'\n' | b'\r' | b'\t' => {}
            _ => {
                item_key = false;
                after_item_key = false;
            }
        }
        at += 1;
    }
    Ok(counted)
}

#[cfg(test)]
mod escaped_keys {
    use super::*;

    #[test]
    fn test_escaped_item_keys_are_counted_as_the_parser_reads_them() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"sp\u0061ns":[{},{},{}]}]}]}"#;
        let budget = Budget {
            items: 2,
            messages: 100,
        };
        assert_eq!(
            count_json(body, budget),
            Err(BudgetError::TooManyItems { limit: 2 })
        );
        let request: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest =
            serde_json::from_slice(body).expect("the parser takes the escaped key");
        assert_eq!(request.resource_spans[0].scope_spans[0].spans.len(), 3);
        let logs = br#"{"resourceLogs":[{"scopeLogs":[{"log\u0052ecords":[{}]}]}]}"#;
        assert_eq!(count_json(logs, Budget::default()).map(|c| c.items), Ok(1));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    use super::*;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    fn spans(n: usize, attributes: usize) -> ExportTraceServiceRequest {
        let span = Span {
            name: "s".to_owned(),
            attributes: (0..attributes)
                .map(|i| kv(&format!("k{i}"), any_value::Value::IntValue(1)))
                .collect(),
            events: vec![Event::default()],
            ..Span::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span; n],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    #[test]
    fn test_protobuf_counts_items_and_every_message() {
        let body = spans(3, 2).encode_to_vec();
        let counted = count_protobuf(&body, Signal::Traces, Budget::default()).unwrap();
        // resource spans, scope spans, and per span: itself, 2 attributes with a value each,
        // one event.
        assert_eq!(
            counted,
            Counted {
                items: 3,
                messages: 2 + 3 * (1 + 2 * 2 + 1)
            }
        );
        let json = serde_json::to_vec(&spans(3, 2)).unwrap();
        assert_eq!(count_json(&json, Budget::default()).unwrap().items, 3);
    }

    #[test]
    fn test_empty_spans_are_refused_before_decoding() {
        // 200,001 empty spans are 400 KB on the wire: refused by count, not by size.
        let mut scope = Vec::new();
        for _ in 0..200_001 {
            scope.extend_from_slice(&[0x12, 0x00]);
        }
        let mut resource = vec![0x12];
        prost::encoding::encode_varint(scope.len() as u64, &mut resource);
        resource.extend_from_slice(&scope);
        let mut body = vec![0x0a];
        prost::encoding::encode_varint(resource.len() as u64, &mut body);
        body.extend_from_slice(&resource);
        assert_eq!(
            count_protobuf(&body, Signal::Traces, Budget::default()),
            Err(BudgetError::TooManyItems { limit: 100_000 })
        );
        let json = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            vec!["{}"; 100_001].join(",")
        );
        assert_eq!(
            count_json(json.as_bytes(), Budget::default()),
            Err(BudgetError::TooManyItems { limit: 100_000 })
        );
    }

    #[test]
    fn test_many_attributes_are_messages_over_budget() {
        let body = spans(1, 1_000).encode_to_vec();
        let budget = Budget {
            items: 10,
            messages: 1_500,
        };
        assert_eq!(
            count_protobuf(&body, Signal::Traces, budget),
            Err(BudgetError::TooManyMessages { limit: 1_500 })
        );
    }

    #[test]
    fn test_logs_count_log_records_and_nested_values() {
        let nested = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue::default(); 4],
            })),
        };
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![
                        LogRecord {
                            body: Some(nested),
                            ..LogRecord::default()
                        };
                        2
                    ],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        let counted =
            count_protobuf(&request.encode_to_vec(), Signal::Logs, Budget::default()).unwrap();
        // Empty AnyValues are encoded as zero-length messages and counted too.
        assert_eq!(
            counted,
            Counted {
                items: 2,
                messages: 2 + 2 * (1 + 1 + 1 + 4)
            }
        );
        let json = serde_json::to_vec(&request).unwrap();
        assert_eq!(count_json(&json, Budget::default()).unwrap().items, 2);
    }

    #[test]
    fn test_malformed_and_deep_bodies_are_errors_not_panics() {
        assert!(count_protobuf(&[0x0a, 0xff], Signal::Traces, Budget::default()).is_err());
        assert!(count_protobuf(&[0x0a], Signal::Traces, Budget::default()).is_err());
        assert!(count_protobuf(&[0x0b], Signal::Traces, Budget::default()).is_err());
        // AnyValue arrays nested 100 deep.
        let mut value = AnyValue::default();
        for _ in 0..100 {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        let mut request = spans(1, 0);
        request.resource_spans[0].scope_spans[0].spans[0].attributes = vec![KeyValue {
            key: "deep".to_owned(),
            value: Some(value),
            ..KeyValue::default()
        }];
        assert_eq!(
            count_protobuf(&request.encode_to_vec(), Signal::Traces, Budget::default()),
            Err(BudgetError::TooDeep(MAX_DEPTH))
        );
        // Strings that look like keys or brackets inside strings do not count.
        let json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"spans\"[{"}]}]}]}"#;
        assert_eq!(count_json(json, Budget::default()).unwrap().items, 1);
    }
}

/// Hostile bodies: whatever the bytes, counting answers (never panics), and no body that prost
/// decodes can hold more spans than the count said: the limit cannot be slipped past.
#[cfg(test)]
mod properties {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use prost::Message;

    use super::*;

    fn span_count(request: &ExportTraceServiceRequest) -> usize {
        request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }

    /// A request of `shape[r][s]` spans (resource r, scope s), each with `attributes` attributes.
    fn request(shape: &[Vec<usize>], attributes: usize) -> ExportTraceServiceRequest {
        let span = Span {
            name: "s".to_owned(),
            attributes: (0..attributes)
                .map(|i| KeyValue {
                    key: format!("k{i}"),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("v".to_owned())),
                    }),
                    ..KeyValue::default()
                })
                .collect(),
            events: vec![Event::default()],
            ..Span::default()
        };
        ExportTraceServiceRequest {
            resource_spans: shape
                .iter()
                .map(|scopes| ResourceSpans {
                    scope_spans: scopes
                        .iter()
                        .map(|&n| ScopeSpans {
                            spans: vec![span.clone(); n],
                            ..ScopeSpans::default()
                        })
                        .collect(),
                    ..ResourceSpans::default()
                })
                .collect(),
        }
    }

    proptest! {
        #[test]
        fn test_any_bytes_are_counted_or_refused(bytes in vec(any::<u8>(), 0..2048)) {
            let _ = count_protobuf(&bytes, Signal::Traces, Budget::default());
            let _ = count_protobuf(&bytes, Signal::Logs, Budget::default());
            let _ = count_json(&bytes, Budget::default());
        }

        #[test]
        fn test_valid_requests_are_counted_exactly(
            shape in vec(vec(0usize..20, 0..4), 0..4),
            attributes in 0usize..6,
        ) {
            let request = request(&shape, attributes);
            let counted = count_protobuf(&request.encode_to_vec(), Signal::Traces, Budget::default());
            prop_assert_eq!(counted.map(|c| c.items), Ok(span_count(&request)));
            let json = serde_json::to_vec(&request).expect("serializable");
            prop_assert_eq!(count_json(&json, Budget::default()).map(|c| c.items), Ok(span_count(&request)));
        }

        #[test]
        fn test_a_mangled_body_never_decodes_to_more_than_was_counted(
            shape in vec(vec(0usize..10, 0..3), 1..3),
            flips in vec((any::<usize>(), any::<u8>()), 1..8),
        ) {
            let mut bytes = request(&shape, 2).encode_to_vec();
            if bytes.is_empty() {
                return Ok(());
            }
            for (at, byte) in flips {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            let counted = count_protobuf(&bytes, Signal::Traces, Budget::default());
            if let (Ok(counted), Ok(decoded)) = (counted, ExportTraceServiceRequest::decode(bytes.as_slice())) {
                prop_assert!(counted.items >= span_count(&decoded), "{counted:?} < {}", span_count(&decoded));
            }
        }
    }
}
