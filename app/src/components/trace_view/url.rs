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

    /// The whole query (tracked): for links that change one parameter and keep the rest.
    pub fn query(&self) -> ParamsMap {
        self.query.get()
    }

    /// A parameter's value, untracked; an empty one reads as absent.
    pub fn get_untracked(&self, key: &str) -> Option<String> {
        self.query
            .with_untracked(|query| query.get(key))
            .filter(|v| !v.is_empty())
    }

    /// Sets a parameter (`None` or empty removes it).
    pub fn set(&self, key: &'static str, value: Option<String>, replace: bool) {
        self.set_all(&[(key, value)], replace);
    }

    /// Sets several parameters in one history step (`None` or empty removes one).
    pub fn set_all(&self, changes: &[(&'static str, Option<String>)], replace: bool) {
        let mut params = self.query.get_untracked();
        for (key, value) in changes {
            match value.clone().filter(|v| !v.is_empty()) {
                Some(value) => params.replace(*key, value),
                None => {
                    params.remove(key);
                }
            }
        }
        self.write.run((params, replace));
    }
}
