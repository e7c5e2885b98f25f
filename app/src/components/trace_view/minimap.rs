//! The whole trace in one strip above the waterfall: how many spans start in each slice, the
//! zoomed window highlighted; drag across it to zoom, ◀ ▶ pan, Reset.

use std::sync::Arc;

use leptos::prelude::*;

use super::{ViewState, ZoomDrag};
use crate::model::waterfall::{PreparedTrace, density_path, minimap_window, panned};

#[component]
pub fn Minimap(trace: Arc<PreparedTrace>, state: ViewState, drag: ZoomDrag) -> impl IntoView {
    let ViewState { zoom, set_zoom, .. } = state;
    let width = trace.width;
    let density = density_path(&trace.spans, trace.origin, width);
    let pan = move |direction: i64| {
        set_zoom.run(Some(panned(zoom.get_untracked(), width, direction)));
    };
    move || {
        let (left, len) = minimap_window(zoom.get(), width);
        view! {
            <div class="minimap-row">
                <div class="minimap__controls">
                    <button class="button" title="Pan left" aria-label="Pan left" on:click=move |_| pan(-1)>
                        "◀"
                    </button>
                    <button class="button" title="Pan right" aria-label="Pan right" on:click=move |_| pan(1)>
                        "▶"
                    </button>
                    <button
                        class="button"
                        disabled=move || zoom.get().is_none()
                        on:click=move |_| set_zoom.run(None)
                    >
                        "Reset zoom"
                    </button>
                </div>
                <div
                    class="minimap"
                    title="The whole trace: drag to zoom"
                    on:mousedown=move |ev| drag.start(&ev, true)
                    on:mousemove=move |ev| drag.track(&ev, true)
                    on:mouseup=move |_| drag.end(true)
                    on:mouseleave=move |_| drag.end(true)
                >
                    <svg viewBox="0 0 1000 24" preserveAspectRatio="none" aria-hidden="true">
                        <path class="minimap__density" d=density.clone() />
                    </svg>
                    <div
                        class="minimap__window"
                        style=format!("left: {left:.3}%; width: {len:.3}%")
                    ></div>
                    {move || drag.selection(true)}
                </div>
            </div>
        }
    }
}
