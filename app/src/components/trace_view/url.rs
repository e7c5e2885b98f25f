//! The trace view's handle on the URL query: reads a parameter, writes one.

use leptos::prelude::*;
use leptos_router::params::ParamsMap;

/// Changes the URL's query (pushing a history entry unless `replace`), keeping the path. The
/// page makes it from its router.
#[derive(Clone, Copy)]
pub struct QueryWriter {
    write: Callback<(ParamsMap, bool)>,
    query: Memo<ParamsMap>,
}

impl QueryWriter {
    /// `query` is the URL's query; `write` navigates to a new one (`true`: in place).
    pub fn new(query: Memo<ParamsMap>, write: Callback<(ParamsMap, bool)>) -> Self {
        QueryWriter { write, query }
    }

    /// A parameter's value (tracked); an empty one reads as absent.
    pub fn get(&self, key: &str) -> Option<String> {
        self.query.read().get(key).filter(|v| !v.is_empty())
    }

    /// Sets a parameter (`None` or empty removes it).
    pub fn set(&self, key: &'static str, value: Option<String>, replace: bool) {
        let mut params = self.query.get_untracked();
        match value.filter(|v| !v.is_empty()) {
            Some(value) => params.replace(key, value),
            None => {
                params.remove(key);
            }
        }
        self.write.run((params, replace));
    }
}
