//! Keyset cursors as the REST API and the dashboard pass them around: the last row's sort key
//! and tie-breaker, `:`-joined and base64url'd so they are opaque, URL-safe text. (The gRPC
//! telemetry service has its own 16-byte form: the Python client parses cursors as UUIDs.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A cursor of `fields`; only the last may hold a `:`.
pub fn encode(fields: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(fields.join(":"))
}

/// The `N` fields of a cursor [`encode`] made; `None` for anything else.
pub fn decode<const N: usize>(cursor: &str) -> Option<[String; N]> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let fields: Vec<String> = text.splitn(N, ':').map(str::to_owned).collect();
    fields.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_fields_round_trip_and_the_last_may_hold_colons() {
        let cursor = encode(&["n", "-42", "a:b"]);
        assert!(!cursor.contains(':'), "opaque: {cursor}");
        assert_eq!(
            decode::<3>(&cursor),
            Some(["n".to_owned(), "-42".to_owned(), "a:b".to_owned()])
        );
    }

    #[test]
    fn test_garbage_and_wrong_arity_are_none() {
        assert_eq!(decode::<2>("!!!"), None);
        assert_eq!(decode::<2>(&URL_SAFE_NO_PAD.encode([0xff, 0xfe])), None);
        assert_eq!(decode::<3>(&encode(&["12", "ab"])), None);
        assert_eq!(decode::<2>(""), None, "an empty cursor has one field");
    }

    proptest::proptest! {
        #[test]
        fn test_any_text_decodes_or_is_refused(text in ".{0,64}") {
            let _ = decode::<2>(&text);
            let _ = decode::<3>(&text);
        }

        #[test]
        fn test_fields_without_colons_round_trip(
            key in "[^:]{0,12}",
            tie in ".{0,24}",
        ) {
            let cursor = encode(&[&key, &tie]);
            proptest::prop_assert_eq!(decode::<2>(&cursor), Some([key, tie]));
        }
    }
}
