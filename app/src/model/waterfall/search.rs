//! Span search: the parsed query, which spans it matches (with the server's answer to its
//! `key=value` terms and bare terms in attribute values) and the count line under the toolbar.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::RowTask;
use crate::model::{SpanOutline, StatusCode};

/// A parsed search: every term must match. `status:error|ok|unset`, `key=value` (an attribute
/// or resource attribute equal to the value as text), anything else is a case-insensitive
/// substring of the span name, its service, its task's tag (input summary, display label:
/// `T33U07` finds the tile task whose input is `tile=T33U07`) or any of its attribute or
/// resource attribute values (`S2A_001` finds the span with `scene_id=S2A_001`).
///
/// The page holds span skeletons only, so attributes are searched by the server
/// ([`SpanQuery::attribute_terms`], [`SpanQuery::text_terms`] → `search_spans` → the store's
/// `span_ids_with_attributes` and `span_ids_with_value`, answered as [`SearchHits`]); names,
/// services, tags and statuses here ([`SpanQuery::matches_with`]), at once, before the answer.
///
/// At most [`MAX_ATTRIBUTE_TERMS`] terms go to the server (each is a condition or a query;
/// 3,000 of them overflowed SQLite's expression depth), each at most [`MAX_TERM_CHARS`].
/// The most `key=value` terms one span search (or `attr=` filters one REST query) may hold,
/// and the most terms a search may send the server.
pub const MAX_ATTRIBUTE_TERMS: usize = 32;
/// The longest term the server searches attribute values for.
pub const MAX_TERM_CHARS: usize = 256;
/// Shorter bare terms match names, services and tags only: a letter or two would be in nearly
/// every value (an answer of every span id, for each keystroke).
pub const MIN_VALUE_TERM_CHARS: usize = 3;

/// Whether a bare term is looked for in attribute values.
pub fn searches_values(term: &str) -> bool {
    term.chars().count() >= MIN_VALUE_TERM_CHARS
}

/// The server's answer to a search: for its `key=value` terms together, and for each text term
/// in order, the spans whose attribute (or resource attribute) values contain it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchHits {
    /// Spans with every `key=value` term; `None` when the search has none.
    pub attributes: Option<Vec<String>>,
    pub values: Vec<Vec<String>>,
}

/// [`SearchHits`] as sets, for matching span by span.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteHits {
    pub attributes: Option<HashSet<String>>,
    pub values: Vec<HashSet<String>>,
}

impl From<SearchHits> for RemoteHits {
    fn from(hits: SearchHits) -> Self {
        RemoteHits {
            attributes: hits.attributes.map(|ids| ids.into_iter().collect()),
            values: hits
                .values
                .into_iter()
                .map(|ids| ids.into_iter().collect())
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpanQuery {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Status(StatusCode),
    Attribute(String, String),
    Text(String),
}

impl SpanQuery {
    pub fn parse(text: &str) -> Self {
        let terms = text
            .split_whitespace()
            .map(|term| {
                if let Some(status) = term.strip_prefix("status:") {
                    match status.to_ascii_lowercase().as_str() {
                        "error" => return Term::Status(StatusCode::Error),
                        "ok" => return Term::Status(StatusCode::Ok),
                        "unset" => return Term::Status(StatusCode::Unset),
                        _ => {}
                    }
                }
                match term.split_once('=') {
                    Some((key, value)) if !key.is_empty() => {
                        Term::Attribute(key.to_owned(), value.to_owned())
                    }
                    _ => Term::Text(term.to_lowercase()),
                }
            })
            .collect();
        SpanQuery { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The `key=value` terms, which only the server can answer.
    pub fn attribute_terms(&self) -> Vec<(String, String)> {
        self.terms
            .iter()
            .filter_map(|term| match term {
                Term::Attribute(key, value) => Some((key.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }

    /// The text terms (lowercased), in order: the server looks for each in attribute values.
    pub fn text_terms(&self) -> Vec<String> {
        self.terms
            .iter()
            .filter_map(|term| match term {
                Term::Text(text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether the server has a part in it: `key=value` terms, and text, which may be in an
    /// attribute value (`status:` terms alone are answered here).
    pub fn needs_server(&self) -> bool {
        self.terms.iter().any(|term| match term {
            Term::Attribute(..) => true,
            Term::Text(text) => searches_values(text),
            Term::Status(_) => false,
        })
    }

    /// Whether the span, whose task's tag is `tag` (empty for spans that are no task attempt),
    /// passes the status and text terms here (`key=value` terms aside; a text term only by the
    /// span's name, service and tag).
    pub fn matches(&self, span: &SpanOutline, tag: &str) -> bool {
        self.matches_with(span, tag, |_| false)
    }

    /// [`SpanQuery::matches`], where the `i`-th text term also passes when `in_values(i)`: the
    /// server found it in one of the span's attribute values.
    pub fn matches_with(
        &self,
        span: &SpanOutline,
        tag: &str,
        in_values: impl Fn(usize) -> bool,
    ) -> bool {
        let mut text_index = 0;
        self.terms.iter().all(|term| match term {
            Term::Status(status) => span.status_code == *status,
            Term::Attribute(..) => true,
            Term::Text(text) => {
                let index = text_index;
                text_index += 1;
                span.name.to_lowercase().contains(text)
                    || span.service.to_lowercase().contains(text)
                    || tag.to_lowercase().contains(text)
                    || in_values(index)
            }
        })
    }
}

/// The server's answer to a search: the search text it answers and what it found (or why it
/// failed).
pub type AttributeHits = (String, Result<RemoteHits, String>);

/// What the server said about the search as it reads now: `Some(Ok(None))` when the search asks
/// the server nothing, `Some(Ok(Some(ids)))` or `Some(Err(..))` once the answer for exactly this
/// text is in, `None` while it is pending (the latest answer may be for an older text).
///
/// `fetched` reads the latest answer; it is read only when the search asks the server.
pub fn current_answer(
    text: &str,
    fetched: impl FnOnce() -> Option<AttributeHits>,
) -> Option<Result<Option<Arc<RemoteHits>>, String>> {
    if !SpanQuery::parse(text).needs_server() {
        return Some(Ok(None));
    }
    match fetched() {
        Some((asked, hits)) if asked == text => Some(hits.map(|ids| Some(Arc::new(ids)))),
        _ => None,
    }
}

/// Per span, whether it matches the search: its status and text terms here, its `key=value`
/// terms and text in attribute values by the server's answer (`remote`; while that is not in,
/// `key=value` terms pass and text terms match names, services and tags only). `None` when
/// there is no search.
pub fn search_matches(
    text: &str,
    spans: &[SpanOutline],
    row_tasks: &HashMap<usize, RowTask>,
    remote: Option<&RemoteHits>,
) -> Option<Vec<bool>> {
    let query = SpanQuery::parse(text);
    if query.is_empty() {
        return None;
    }
    Some(
        spans
            .iter()
            .enumerate()
            .map(|(index, s)| {
                let tag = row_tasks.get(&index).map_or("", |task| task.tag.as_str());
                let in_values = |term: usize| {
                    remote
                        .and_then(|hits| hits.values.get(term))
                        .is_some_and(|ids| ids.contains(&s.span_id))
                };
                query.matches_with(s, tag, in_values)
                    && remote
                        .and_then(|hits| hits.attributes.as_ref())
                        .is_none_or(|ids| ids.contains(&s.span_id))
            })
            .collect(),
    )
}

/// The count next to the search: how many spans match (or where the server's part of the search
/// stands), or without a search how many of the spans the tree shows. While the server has not
/// answered, a search with `key=value` terms (`pending_hides`: the answer may hide any span)
/// says only that it is searching; one with bare terms counts what names, services and tags
/// match so far (the answer can only add attribute-value matches), also without JavaScript,
/// where no answer comes.
pub fn count_text(
    matching: Option<&[bool]>,
    answer: Option<Result<(), &str>>,
    pending_hides: bool,
    shown_rows: usize,
    total: usize,
) -> String {
    match (matching, answer) {
        (Some(_), None) if pending_hides => "searching attributes…".to_owned(),
        (Some(matching), None) => {
            let hits = matching.iter().filter(|hit| **hit).count();
            format!("{hits} of {total} spans match, searching attribute values…")
        }
        (Some(_), Some(Err(error))) => format!("search failed: {error}"),
        (Some(matching), Some(Ok(()))) => {
            let hits = matching.iter().filter(|hit| **hit).count();
            format!("{hits} of {total} spans match")
        }
        (None, _) => format!("{shown_rows} of {total} spans shown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::waterfall::fixtures::span;

    #[test]
    fn test_query_terms_all_must_match() {
        let download = span("download-scene", "r1", 0, 10);
        let mut failed = span("compute-index", "r1", 10, 20);
        failed.status_code = StatusCode::Error;
        let q = SpanQuery::parse;
        assert!(q("DOWNLOAD").matches(&download, ""));
        assert!(q("SVC").matches(&download, ""), "the service too");
        assert!(q("status:error").matches(&failed, ""));
        assert!(!q("status:error").matches(&download, ""));
        assert!(!q("status:error download").matches(&failed, ""));
        assert!(q("").is_empty() && q("").matches(&download, ""));
        // Attribute terms are left to the server.
        let mixed = q("scene_id=S2A_001 download retries=2");
        assert!(mixed.matches(&download, ""));
        assert_eq!(
            mixed.attribute_terms(),
            vec![
                ("scene_id".to_owned(), "S2A_001".to_owned()),
                ("retries".to_owned(), "2".to_owned())
            ]
        );
    }

    #[test]
    fn test_bare_text_finds_a_task_by_its_tag() {
        let tile = span("task/DownloadTile", "r1", 0, 10);
        let other = span("task/DownloadTile", "r1", 10, 20);
        assert!(SpanQuery::parse("t33u07").matches(&tile, "tile=T33U07 year=2024"));
        assert!(!SpanQuery::parse("t33u07").matches(&other, "tile=T33U08"));
        let tagged = |tag: &str| RowTask {
            tag: tag.to_owned(),
            ..RowTask::default()
        };
        let row_tasks = HashMap::from([(0, tagged("tile=T33U07")), (1, tagged("tile=T33U08"))]);
        assert_eq!(
            search_matches("T33U07", &[tile, other], &row_tasks, None),
            Some(vec![true, false])
        );
    }

    #[test]
    fn test_key_value_and_text_terms_ask_the_server() {
        assert!(SpanQuery::parse("scene_id=S2A").needs_server());
        assert!(
            SpanQuery::parse("download").needs_server(),
            "text may be in a value"
        );
        assert!(
            !SpanQuery::parse("do").needs_server(),
            "too short to look for in values"
        );
        assert!(!SpanQuery::parse("status:error").needs_server());
        assert!(!SpanQuery::parse("").needs_server());
        // `=value` has no key: plain text, lowercased like every text term.
        let odd = SpanQuery::parse("=Oops k=v S2A status:ok");
        assert_eq!(odd.text_terms(), vec!["=oops".to_owned(), "s2a".to_owned()]);
        assert_eq!(
            odd.attribute_terms(),
            vec![("k".to_owned(), "v".to_owned())]
        );
    }

    #[test]
    fn test_text_terms_match_attribute_values_by_the_server_answer() {
        let mut a = span("download", "r1", 0, 10);
        a.span_id = "a".into();
        let mut b = span("compute", "r1", 10, 20);
        b.span_id = "b".into();
        let spans = vec![a, b];
        let no_tasks = HashMap::new();
        // Before the answer: names only.
        assert_eq!(
            search_matches("s2a_001", &spans, &no_tasks, None),
            Some(vec![false, false])
        );
        // The server found the first text term in b's attributes.
        let hits = RemoteHits::from(SearchHits {
            attributes: None,
            values: vec![vec!["b".to_owned()], vec![]],
        });
        assert_eq!(
            search_matches("s2a_001", &spans, &no_tasks, Some(&hits)),
            Some(vec![false, true])
        );
        // Every text term must pass, each by a name or its own value hits.
        assert_eq!(
            search_matches("s2a_001 compute", &spans, &no_tasks, Some(&hits)),
            Some(vec![false, true])
        );
        assert_eq!(
            search_matches("s2a_001 download", &spans, &no_tasks, Some(&hits)),
            Some(vec![false, false])
        );
    }

    #[test]
    fn test_answer_is_pending_until_it_is_for_the_current_text() {
        let ids = RemoteHits {
            attributes: Some(["s1".to_owned()].into()),
            values: Vec::new(),
        };
        // Nothing to ask: answered at once, without ids.
        let unread = || -> Option<AttributeHits> { panic!("asked the server for nothing") };
        assert_eq!(current_answer("status:error", unread), Some(Ok(None)));
        // Asked, not answered yet, or answered for an older text: pending.
        assert_eq!(current_answer("k=v", || None), None);
        let old = ("k=old".to_owned(), Ok(ids.clone()));
        assert_eq!(current_answer("k=v", || Some(old.clone())), None);
        // The answer for this text.
        let fresh = ("k=v".to_owned(), Ok(ids.clone()));
        assert_eq!(
            current_answer("k=v", || Some(fresh.clone())),
            Some(Ok(Some(Arc::new(ids))))
        );
        let failed = ("k=v".to_owned(), Err("store down".to_owned()));
        assert_eq!(
            current_answer("k=v", || Some(failed.clone())),
            Some(Err("store down".to_owned()))
        );
    }

    #[test]
    fn test_matches_combine_local_terms_and_the_server_ids() {
        let mut a = span("download", "r1", 0, 10);
        a.span_id = "a".into();
        let mut b = span("download", "r1", 10, 20);
        b.span_id = "b".into();
        let mut c = span("upload", "r1", 20, 30);
        c.span_id = "c".into();
        let spans = vec![a, b, c];
        let no_tasks = HashMap::new();
        assert_eq!(search_matches("", &spans, &no_tasks, None), None);
        assert_eq!(
            search_matches("down", &spans, &no_tasks, None),
            Some(vec![true, true, false])
        );
        let remote = RemoteHits {
            attributes: Some(["b".to_owned(), "c".to_owned()].into()),
            values: vec![HashSet::new()],
        };
        assert_eq!(
            search_matches("down k=v", &spans, &no_tasks, Some(&remote)),
            Some(vec![false, true, false])
        );
        // Until the server answers, `key=value` terms do not hide anything.
        assert_eq!(
            search_matches("k=v", &spans, &no_tasks, None),
            Some(vec![true, true, true])
        );
    }

    #[test]
    fn test_count_text_says_where_the_search_stands() {
        let hits = [true, false, true];
        assert_eq!(
            count_text(None, Some(Ok(())), false, 7, 10),
            "7 of 10 spans shown"
        );
        assert_eq!(count_text(None, None, false, 7, 10), "7 of 10 spans shown");
        assert_eq!(
            count_text(Some(&hits), None, true, 3, 10),
            "searching attributes…"
        );
        assert_eq!(
            count_text(Some(&hits), None, false, 3, 10),
            "2 of 10 spans match, searching attribute values…"
        );
        assert_eq!(
            count_text(Some(&hits), Some(Err("boom")), true, 3, 10),
            "search failed: boom"
        );
        assert_eq!(
            count_text(Some(&hits), Some(Ok(())), true, 3, 10),
            "2 of 10 spans match"
        );
    }
}
