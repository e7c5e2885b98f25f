//! What tells one task of a fan-out from its siblings: a short text from its input, stored
//! with the task when it is submitted and shown next to its name wherever the dashboard lists it.
//!
//! The Tilebox client sends a task's input as JSON: an object of its fields in declaration
//! order, or, for a task with one field, that field's value alone (`"T33U07"`, `3`). The summary
//! is the first [`MAX_FIELDS`] scalar fields as `key=value` (the lone value as it is), strings
//! unquoted and cut at [`MAX_VALUE_CHARS`]; nested objects and lists are left out. Inputs that
//! are not JSON (protobuf messages) or larger than [`MAX_PARSED_BYTES`] have no summary.

use std::fmt;

use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Scalar fields (or list items) a summary shows.
pub const MAX_FIELDS: usize = 3;
/// Characters of one value a summary shows.
pub const MAX_VALUE_CHARS: usize = 40;
/// Larger inputs are not parsed for a summary (submission stays cheap for big inputs).
pub const MAX_PARSED_BYTES: usize = 64 * 1024;

/// The summary of a task's input; empty when it has none.
pub fn input_summary(input: &[u8]) -> String {
    if input.is_empty() || input.len() > MAX_PARSED_BYTES {
        return String::new();
    }
    let mut de = serde_json::Deserializer::from_slice(input);
    match de.deserialize_any(Summary) {
        Ok(summary) if de.end().is_ok() => summary,
        _ => String::new(),
    }
}

/// A scalar as the summary shows it, or `None` for null, objects and lists.
#[derive(Debug)]
struct Scalar(Option<String>);

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar(Some(v.to_string())))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar(Some(v.to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar(Some(v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar(Some(v.to_string())))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar(Some(shown(v))))
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar(None))
    }
}

/// The whole input: a scalar, an object of fields or a list.
struct Summary;

impl<'de> Visitor<'de> for Summary {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a task input")
    }
    fn visit_bool<E>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(shown(v))
    }
    fn visit_unit<E>(self) -> Result<String, E> {
        Ok(String::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.len() == MAX_FIELDS {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if let Scalar(Some(value)) = map.next_value::<Scalar>()? {
                fields.push(format!("{}={value}", shown(&key)));
            }
        }
        Ok(fields.join(" "))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let (mut items, mut more) = (Vec::new(), false);
        while let Some(Scalar(item)) = seq.next_element::<Scalar>()? {
            match item {
                Some(item) if items.len() < MAX_FIELDS => items.push(item),
                _ => more = true,
            }
        }
        if items.is_empty() {
            return Ok(String::new());
        }
        let tail = if more { ", …" } else { "" };
        Ok(format!("[{}{tail}]", items.join(", ")))
    }
}

/// `text` on one line and at most [`MAX_VALUE_CHARS`] characters (`…` marks a cut).
fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_VALUE_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX_VALUE_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_lone_field_is_its_value() {
        assert_eq!(input_summary(br#""T33U07""#), "T33U07");
        assert_eq!(input_summary(b"3"), "3");
        assert_eq!(input_summary(b"-2.5"), "-2.5");
        assert_eq!(input_summary(b"true"), "true");
        assert_eq!(input_summary(b"null"), "");
    }

    #[test]
    fn test_an_object_shows_its_first_scalar_fields_in_order() {
        let input =
            br#"{"tile":"T33U07","scene":{"id":1},"bands":[1,2],"year":2024,"cloudy":false,"x":9}"#;
        assert_eq!(input_summary(input), "tile=T33U07 year=2024 cloudy=false");
        assert_eq!(input_summary(br#"{"z":1,"a":2}"#), "z=1 a=2");
        assert_eq!(input_summary(br#"{"nested":{"a":1}}"#), "");
    }

    #[test]
    fn test_a_list_shows_its_first_items() {
        assert_eq!(input_summary(b"[1,2]"), "[1, 2]");
        assert_eq!(input_summary(b"[1,2,3,4]"), "[1, 2, 3, …]");
        assert_eq!(input_summary(br#"[{"a":1}]"#), "");
    }

    #[test]
    fn test_long_and_multiline_values_are_cut_to_one_short_line() {
        let long = format!(r#"{{"path":"{}"}}"#, "a".repeat(100));
        let summary = input_summary(long.as_bytes());
        assert_eq!(summary, format!("path={}…", "a".repeat(MAX_VALUE_CHARS)));
        assert_eq!(input_summary(br#""two\nlines""#), "two lines");
    }

    #[test]
    fn test_inputs_that_are_not_json_or_too_large_have_no_summary() {
        assert_eq!(input_summary(b""), "");
        assert_eq!(input_summary(&[0x0a, 0x03, 0x66, 0x6f, 0x6f]), "");
        assert_eq!(input_summary(b"{\"a\":1} trailing"), "");
        let big = format!(r#"{{"a":1,"pad":"{}"}}"#, "x".repeat(MAX_PARSED_BYTES));
        assert_eq!(input_summary(big.as_bytes()), "");
    }
}
