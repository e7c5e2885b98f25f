//! Zooming by drag: across the time axis (within the current window) or the minimap (the whole
//! trace); the axis itself, and the dragged range shown while dragging.

use std::sync::Arc;

use leptos::prelude::*;

use super::ViewState;
use crate::components::TimeAxis;
use crate::model::waterfall::{PreparedTrace, drag_window};

/// A drag in progress: where it started and is now (fractions of the strip), and whether it
/// is on the minimap (else the axis).
#[derive(Clone, Copy)]
pub struct ZoomDrag {
    drag: RwSignal<Option<(f64, f64, bool)>>,
    state: ViewState,
    origin: i64,
    width: i64,
}

impl ZoomDrag {
    pub fn new(state: ViewState, trace: &PreparedTrace) -> Self {
        ZoomDrag {
            drag: RwSignal::new(None),
            state,
            origin: trace.origin,
            width: trace.width,
        }
    }

    pub fn start(self, ev: &leptos::ev::MouseEvent, minimap: bool) {
        ev.prevent_default();
        let at = fraction(ev);
        self.drag.set(Some((at, at, minimap)));
    }

    pub fn track(self, ev: &leptos::ev::MouseEvent, minimap: bool) {
        let at = fraction(ev);
        self.drag.update(|d| {
            if let Some((_, end, on_minimap)) = d
                && *on_minimap == minimap
            {
                *end = at;
            }
        });
    }

    /// Ends a drag on this strip: zooms to the dragged range unless it was a click.
    pub fn end(self, minimap: bool) {
        if let Some((start, end, on_minimap)) = self.drag.get_untracked()
            && on_minimap == minimap
        {
            self.drag.set(None);
            let (base_from, base_len) = if minimap {
                (0, self.width)
            } else {
                let s = self.state.scale.get_untracked();
                (s.from_ns - self.origin, s.span_ns)
            };
            if let Some(window) = drag_window(start, end, base_from, base_len) {
                self.state.set_zoom.run(Some(window));
            }
        }
    }

    /// The range being dragged across this strip.
    pub fn selection(self, minimap: bool) -> impl IntoView {
        self.drag
            .get()
            .filter(|d| d.2 == minimap)
            .map(|(start, end, _)| {
                let (low, high) = (start.min(end), start.max(end));
                view! {
                    <div
                        class="zoom-selection"
                        style=format!("left: {:.3}%; width: {:.3}%", low * 100.0, (high - low) * 100.0)
                    ></div>
                }
            })
    }
}

/// The waterfall's time axis over the current window; drag across it to zoom in.
#[component]
pub fn ZoomAxis(trace: Arc<PreparedTrace>, state: ViewState, drag: ZoomDrag) -> impl IntoView {
    let (scale, origin) = (state.scale, trace.origin);
    view! {
        <div
            class="waterfall__axis"
            title="Drag to zoom into a time range"
            on:mousedown=move |ev| drag.start(&ev, false)
            on:mousemove=move |ev| drag.track(&ev, false)
            on:mouseup=move |_| drag.end(false)
            on:mouseleave=move |_| drag.end(false)
        >
            {move || {
                let s = scale.get();
                view! { <TimeAxis duration_ns=s.span_ns offset_ns=s.from_ns - origin /> }
            }}
            {move || drag.selection(false)}
        </div>
    }
}

/// Where a mouse event falls across its element (the axis or the minimap), from 0 to 1.
fn fraction(ev: &leptos::ev::MouseEvent) -> f64 {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        if let Some(el) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let rect = el.get_bounding_client_rect();
            if rect.width() > 0.0 {
                return ((f64::from(ev.client_x()) - rect.left()) / rect.width()).clamp(0.0, 1.0);
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
    0.0
}
