//! The trace view's toolbar: waterfall or runner lanes, critical path, folding, expand and
//! collapse all, the minimum duration, the span search with its count, and the link to copy.

use std::sync::Arc;

use leptos::prelude::*;

use super::ViewState;
use super::keyboard::SEARCH_ID;
use crate::components::CopyButton;
use crate::model::FOLD_AT;
use crate::model::waterfall::{PreparedTrace, SpanQuery, TraceLayout, count_text, on_param};

#[component]
pub fn Toolbar(trace: Arc<PreparedTrace>, state: ViewState) -> impl IntoView {
    let ViewState {
        url,
        layout,
        show_critical,
        folding,
        min_ns,
        search,
        collapse_all,
        ..
    } = state;
    let set_view = move |to: TraceLayout| url.set("view", to.param(), false);
    let workflow = !trace.tasks.is_empty();
    let expand_all = move |_| collapse_all.run(false);
    let collapse_all = move |_| collapse_all.run(true);
    let on_search = move |ev: leptos::ev::Event| {
        // Typing replaces the history entry: Back leaves the search, not each keystroke.
        url.set("q", Some(event_target_value(&ev)), true);
    };
    let on_search_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            url.set("q", None, false);
        }
    };
    let count = move || {
        let total = trace.spans.len();
        // The server's answer is read first: `matching` is derived from it too, and when an
        // answer leaves the matches as they were (a bare term found in names only), a check
        // through `matching` first refreshed the answer without this closure seeing it change,
        // and the count said "searching…" after the answer had come.
        let answer = state.attribute_answer.get();
        let pending_hides =
            search.with(|text| !SpanQuery::parse(text).attribute_terms().is_empty());
        // Without a search, how many rows the tree shows.
        let shown = if state.matching.with(Option::is_none) {
            state.rows.with(Vec::len)
        } else {
            0
        };
        state.matching.with(|matching| {
            let answer = answer
                .as_ref()
                .map(|a| a.as_ref().map(|_| ()).map_err(String::as_str));
            count_text(matching.as_deref(), answer, pending_hides, shown, total)
        })
    };
    view! {
        <div class="trace-view__toolbar">
            <div class="trace-view__views" role="group" aria-label="View">
                <button
                    class="button"
                    aria-pressed=move || (layout.get() == TraceLayout::Waterfall).to_string()
                    on:click=move |_| set_view(TraceLayout::Waterfall)
                >
                    "Waterfall"
                </button>
                <button
                    class="button"
                    aria-pressed=move || (layout.get() == TraceLayout::Lanes).to_string()
                    on:click=move |_| set_view(TraceLayout::Lanes)
                >
                    "Runner lanes"
                </button>
                {workflow
                    .then(|| {
                        view! {
                            <button
                                class="button"
                                aria-pressed=move || {
                                    (layout.get() == TraceLayout::Graph).to_string()
                                }
                                title="The tasks as a diagram: subtasks inside their parent, arrows for depends_on"
                                on:click=move |_| set_view(TraceLayout::Graph)
                            >
                                "Graph"
                            </button>
                        }
                    })}
            </div>
            <button
                class="button"
                aria-pressed=move || show_critical.get().to_string()
                title="Mark the chain of spans that decided when the job ended"
                on:click=move |_| {
                    url.set("critical", on_param(!show_critical.get_untracked()), false);
                }
            >
                "Critical path"
            </button>
            <button
                class="button"
                aria-pressed=move || folding.get().to_string()
                title=format!("Fold runs of {FOLD_AT} or more siblings of one name into one row")
                on:click=move |_| {
                    url.set("fold", on_param(!folding.get_untracked()), false);
                }
            >
                "Fold repeats"
            </button>
            <button class="button" on:click=expand_all>
                "Expand all"
            </button>
            <button class="button" on:click=collapse_all>
                "Collapse all"
            </button>
            <select
                class="trace-view__min"
                aria-label="Hide spans shorter than"
                title="Hide spans shorter than this (with their children)"
                prop:value=move || min_ns.get().map(|m| m.to_string()).unwrap_or_default()
                on:change=move |ev| url.set("min", Some(event_target_value(&ev)), false)
            >
                <option value="">"all durations"</option>
                <option value="1000000">"≥ 1 ms"</option>
                <option value="10000000">"≥ 10 ms"</option>
                <option value="100000000">"≥ 100 ms"</option>
                <option value="1000000000">"≥ 1 s"</option>
                <option value="10000000000">"≥ 10 s"</option>
            </select>
            <input
                id=SEARCH_ID
                class="trace-view__search"
                type="search"
                aria-label="Filter spans"
                placeholder="Filter: name or value, key=value, status:error  ( / )"
                // Also an attribute: without JavaScript the box shows the link's search.
                value=move || search.get()
                prop:value=move || search.get()
                on:input=on_search
                on:keydown=on_search_key
            />
            <span class="trace-view__count muted" aria-live="polite">
                {count}
            </span>
            // Without JavaScript the server's answer (`key=value` terms, values) never comes.
            <noscript>"(key=value terms and attribute values need JavaScript)"</noscript>
            <CopyButton label="Copy link" copied="Link copied" text=None />
        </div>
    }
}
