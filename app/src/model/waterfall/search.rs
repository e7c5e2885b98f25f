//! Span search: the parsed query, which spans it matches (with the server's answer to its
//! `key=value` terms) and the count line under the toolbar.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::RowTask;
use crate::model::{SpanOutline, StatusCode};

/// A parsed search: every term must match. `status:error|ok|unset`, `key=value` (an attribute
/// or resource attribute equal to the value as text), anything else is a case-insensitive
/// substring of the span name, its service or its task's tag (input summary, display label:
/// `T33U07` finds the tile task whose input is `tile=T33U07`).
///
/// The page holds span skeletons only, so `key=value` terms are answered by the server
/// ([`SpanQuery::attribute_terms`] → `search_spans` → the store's `span_ids_with_attributes`);
/// the rest here ([`SpanQuery::matches`]).
///
/// At most [`MAX_ATTRIBUTE_TERMS`] `key=value` terms go to the server (each is a condition of
/// one query; 3,000 of them overflowed SQLite's expression depth).
/// The most `key=value` terms one span search (or `attr=` filters one REST query) may hold.
pub const MAX_ATTRIBUTE_TERMS: usize = 32;

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

    /// Whether it has `key=value` terms, which only the server can answer.
    pub fn needs_server(&self) -> bool {
        self.terms
            .iter()
            .any(|term| matches!(term, Term::Attribute(..)))
    }

    /// Whether the span, whose task's tag is `tag` (empty for spans that are no task attempt),
    /// passes the status and text terms (`key=value` terms aside).
    pub fn matches(&self, span: &SpanOutline, tag: &str) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Status(status) => span.status_code == *status,
            Term::Attribute(..) => true,
            Term::Text(text) => {
                span.name.to_lowercase().contains(text)
                    || span.service.to_lowercase().contains(text)
                    || tag.to_lowercase().contains(text)
            }
        })
    }
}

/// The server's answer to a search's `key=value` terms: the search text it answers and the ids
/// of the spans that have those attributes (or why it failed).
pub type AttributeHits = (String, Result<HashSet<String>, String>);

/// What the server said about the search as it reads now: `Some(Ok(None))` when the search asks
/// the server nothing, `Some(Ok(Some(ids)))` or `Some(Err(..))` once the answer for exactly this
/// text is in, `None` while it is pending (the latest answer may be for an older text).
///
/// `fetched` reads the latest answer; it is read only when the search asks the server.
pub fn current_answer(
    text: &str,
    fetched: impl FnOnce() -> Option<AttributeHits>,
) -> Option<Result<Option<Arc<HashSet<String>>>, String>> {
    if !SpanQuery::parse(text).needs_server() {
        return Some(Ok(None));
    }
    match fetched() {
        Some((asked, hits)) if asked == text => Some(hits.map(|ids| Some(Arc::new(ids)))),
        _ => None,
    }
}

/// Per span, whether it matches the search: its status and text terms here, its `key=value`
/// terms by the server's ids (`remote`; while that is not in, those terms pass). `None` when
/// there is no search.
pub fn search_matches(
    text: &str,
    spans: &[SpanOutline],
    row_tasks: &HashMap<usize, RowTask>,
    remote: Option<&HashSet<String>>,
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
                query.matches(s, tag) && remote.is_none_or(|ids| ids.contains(&s.span_id))
            })
            .collect(),
    )
}

/// The count next to the search: how many spans match (or where the server's part of the search
/// stands), or without a search how many of the spans the tree shows.
pub fn count_text(
    matching: Option<&[bool]>,
    answer: Option<Result<(), &str>>,
    shown_rows: usize,
    total: usize,
) -> String {
    match (matching, answer) {
        (Some(_), None) => "searching attributes…".to_owned(),
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
    fn test_only_key_value_terms_need_the_server() {
        assert!(SpanQuery::parse("download scene_id=S2A").needs_server());
        assert!(!SpanQuery::parse("download status:error").needs_server());
        // `=value` has no key: plain text.
        assert!(!SpanQuery::parse("=oops").needs_server());
        assert!(!SpanQuery::parse("").needs_server());
    }

    #[test]
    fn test_answer_is_pending_until_it_is_for_the_current_text() {
        let ids: HashSet<String> = ["s1".to_owned()].into();
        // Nothing to ask: answered at once, without ids.
        let unread = || -> Option<AttributeHits> { panic!("asked the server for nothing") };
        assert_eq!(current_answer("download", unread), Some(Ok(None)));
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
        let remote: HashSet<String> = ["b".to_owned(), "c".to_owned()].into();
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
        assert_eq!(count_text(None, Some(Ok(())), 7, 10), "7 of 10 spans shown");
        assert_eq!(count_text(None, None, 7, 10), "7 of 10 spans shown");
        assert_eq!(
            count_text(Some(&hits), None, 3, 10),
            "searching attributes…"
        );
        assert_eq!(
            count_text(Some(&hits), Some(Err("boom")), 3, 10),
            "search failed: boom"
        );
        assert_eq!(
            count_text(Some(&hits), Some(Ok(())), 3, 10),
            "2 of 10 spans match"
        );
    }
}
