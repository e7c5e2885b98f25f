//! The trace view's keyboard: the tree's keys (↑/↓ or j/k move, ←/→ collapse/expand, Esc clears
//! the selection), `/` anywhere to jump to the search, and scrolling a selected row into view.

use std::sync::Arc;

use leptos::prelude::*;

use super::ViewState;
#[cfg(feature = "hydrate")]
use super::rows::SCROLLER_ID;
use crate::model::waterfall::{PreparedTrace, TreeKey, tree_key};

/// The id of the span search input.
pub const SEARCH_ID: &str = "span-search";

/// The span tree's keydown handler.
pub fn tree_keys(
    trace: Arc<PreparedTrace>,
    state: ViewState,
) -> impl Fn(leptos::ev::KeyboardEvent) + Clone + 'static {
    move |ev: leptos::ev::KeyboardEvent| {
        let selected = state.selected.get_untracked();
        let key = state.rows.with_untracked(|rows| {
            state.collapsed.with_untracked(|collapsed| {
                tree_key(&ev.key(), rows, &trace.spans, collapsed, selected)
            })
        });
        let span_id = |index: usize| trace.spans[index].span_id.clone();
        match key {
            TreeKey::Ignore => return,
            TreeKey::Clear => state.select.run(None),
            TreeKey::Toggle(index) => state.toggle.run(span_id(index)),
            TreeKey::Unfold(index) => state.unfold.run(span_id(index)),
            TreeKey::Stay => {}
            TreeKey::Select { index, at } => {
                // The first move from no selection is a step of its own; the rest replace it.
                if selected.is_none() {
                    state.select.run(Some(index));
                } else {
                    state.step.run(index);
                }
                reveal(at);
            }
        }
        ev.prevent_default();
    }
}

/// `/` anywhere on the page (outside a text field) jumps to the search (browser only).
pub fn focus_search_on_slash() {
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            use leptos::wasm_bindgen::JsCast;
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA"));
            if ev.key() == "/" && !typing {
                ev.prevent_default();
                if let Some(input) = document().get_element_by_id(SEARCH_ID)
                    && let Ok(input) = input.dyn_into::<web_sys::HtmlElement>()
                {
                    let _ = input.focus();
                }
            }
        });
        on_cleanup(move || handle.remove());
    }
}

/// Scrolls the span tree so the row at `position` is in view (browser only).
fn reveal(position: usize) {
    #[cfg(feature = "hydrate")]
    if let Some(scroller) = document().get_element_by_id(SCROLLER_ID)
        && let Some(top) = crate::model::waterfall::reveal_scroll(
            position,
            scroller.scroll_top(),
            scroller.client_height(),
        )
    {
        scroller.set_scroll_top(top);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = position;
}
