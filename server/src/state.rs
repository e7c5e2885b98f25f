//! What every handler can reach: the store, limits and the Leptos options.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::store::SharedStore;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
}

#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub limits: Limits,
    pub leptos_options: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
