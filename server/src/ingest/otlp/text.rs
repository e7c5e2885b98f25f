//! What texts and values of an OTLP request become in the store: NUL cleaned, cut to the
//! OpenTelemetry SDKs' limits (and counted, for the partial-success message), attributes and
//! values as JSON text written once without intermediate maps.

use std::borrow::Cow;
use std::cell::Cell;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

/// What one span, event or log record may hold, as OpenTelemetry SDKs limit it: beyond these,
/// names, values and bodies are cut and attributes and events dropped, and the response says so
/// (an OTLP partial success with nothing rejected is a warning).
pub mod limits {
    pub const NAME_BYTES: usize = 1024;
    pub const KEY_BYTES: usize = 256;
    pub const VALUE_BYTES: usize = 64 * 1024;
    pub const LOG_BODY_BYTES: usize = 64 * 1024;
    pub const ATTRIBUTES: usize = 128;
    pub const EVENTS: usize = 128;
}

/// What the conversion of one request had to cut.
#[derive(Default)]
pub(super) struct Notes {
    pub(super) truncated: Cell<u64>,
    pub(super) dropped: Cell<u64>,
    pub(super) clamped: Cell<u64>,
}

impl Notes {
    pub(super) fn summary(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.truncated.get(), "texts cut to their length limit"),
            (
                self.dropped.get(),
                "attributes or events dropped over the count limit",
            ),
            (
                self.clamped.get(),
                "spans ending before they started, ended at their start",
            ),
        ]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Text as the store keeps it: NUL (which PostgreSQL refuses in text) as U+FFFD, and at most
/// `max` bytes (cut at a character boundary).
pub(super) fn clean<'a>(text: &'a str, max: usize, notes: &Notes) -> Cow<'a, str> {
    let mut text = Cow::Borrowed(text);
    // Replaced before the cut: U+FFFD is three bytes where NUL was one.
    if text.contains('\0') {
        text = Cow::Owned(text.replace('\0', "\u{FFFD}"));
    }
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text = Cow::Owned(text[..end].to_owned());
        notes.truncated.set(notes.truncated.get() + 1);
    }
    text
}

/// Serializes OTLP attributes as a JSON object without building an intermediate map.
pub(super) struct AttributesJson<'a> {
    pub(super) attributes: &'a [KeyValue],
    pub(super) notes: &'a Notes,
}

impl Serialize for AttributesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kept = self.attributes.len().min(limits::ATTRIBUTES);
        let dropped = (self.attributes.len() - kept) as u64;
        if dropped > 0 {
            self.notes.dropped.set(self.notes.dropped.get() + dropped);
        }
        let mut map = serializer.serialize_map(Some(kept))?;
        for kv in &self.attributes[..kept] {
            map.serialize_entry(
                &clean(&kv.key, limits::KEY_BYTES, self.notes),
                &ValueJson {
                    value: kv.value.as_ref(),
                    notes: self.notes,
                },
            )?;
        }
        map.end()
    }
}

/// An AnyValue as plain JSON: strings, numbers, booleans, arrays, objects; bytes as base64.
struct ValueJson<'a> {
    value: Option<&'a AnyValue>,
    notes: &'a Notes,
}

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use any_value::Value;
        match self.value.and_then(|v| v.value.as_ref()) {
            // String-table indices only mean something in OTLP profiles, which have the table.
            None | Some(Value::StringValueStrindex(_)) => serializer.serialize_none(),
            Some(Value::StringValue(s)) => {
                serializer.serialize_str(&clean(s, limits::VALUE_BYTES, self.notes))
            }
            Some(Value::BoolValue(b)) => serializer.serialize_bool(*b),
            Some(Value::IntValue(i)) => serializer.serialize_i64(*i),
            Some(Value::DoubleValue(d)) => serializer.serialize_f64(*d),
            Some(Value::BytesValue(bytes)) => {
                use base64::Engine;
                let bytes = &bytes[..bytes.len().min(limits::VALUE_BYTES)];
                serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Some(Value::ArrayValue(array)) => {
                let kept = array.values.len().min(limits::ATTRIBUTES);
                let mut seq = serializer.serialize_seq(Some(kept))?;
                for value in &array.values[..kept] {
                    seq.serialize_element(&ValueJson {
                        value: Some(value),
                        notes: self.notes,
                    })?;
                }
                seq.end()
            }
            Some(Value::KvlistValue(list)) => AttributesJson {
                attributes: &list.values,
                notes: self.notes,
            }
            .serialize(serializer),
        }
    }
}

pub(super) fn attributes_json(attributes: &[KeyValue], notes: &Notes) -> String {
    // Serializing these types cannot fail: keys are strings and floats become null if not finite.
    serde_json::to_string(&AttributesJson { attributes, notes }).unwrap_or_else(|_| "{}".to_owned())
}

pub(super) fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// A log body as text: strings as they are, other values as JSON.
pub(super) fn body_text(body: Option<&AnyValue>, notes: &Notes) -> String {
    match body.and_then(|b| b.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => {
            clean(s, limits::LOG_BODY_BYTES, notes).into_owned()
        }
        Some(_) => {
            let json = serde_json::to_string(&ValueJson { value: body, notes }).unwrap_or_default();
            clean(&json, limits::LOG_BODY_BYTES, notes).into_owned()
        }
    }
}
