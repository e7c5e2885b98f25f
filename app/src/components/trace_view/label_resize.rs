//! The waterfall's span column can be dragged wider or narrower (or moved with ←/→ on its
//! handle, reset with a double click or Home); the width is the reader's, kept in localStorage,
//! not in the link: a shared link restores the view, not the sender's screen.

use leptos::prelude::*;

/// Key in localStorage.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const WIDTH_KEY: &str = "jobtrace-span-column";
/// The span column never goes below this, nor leaves the bars less than [`MIN_BARS`].
const MIN_LABEL: f64 = 160.0;
const MIN_BARS: f64 = 240.0;
/// The duration column after the bars (`style/waterfall.css`).
const DURATION_COLUMN: f64 = 72.0;
/// One arrow key press.
const KEY_STEP: f64 = 24.0;

/// A width the column can take in a waterfall `total` px wide.
pub fn clamp_label_width(want: f64, total: f64) -> f64 {
    want.clamp(
        MIN_LABEL,
        (total - MIN_BARS - DURATION_COLUMN).max(MIN_LABEL),
    )
}

/// The chosen width (`None`: the stylesheet's `minmax(260px, 36%)`), read once hydrated.
pub fn label_width() -> RwSignal<Option<f64>> {
    let width = RwSignal::new(None);
    Effect::new(move |_| width.set(saved()));
    width
}

/// The `style` of the element whose grids use `--label-width`.
pub fn label_width_style(width: RwSignal<Option<f64>>) -> impl Fn() -> Option<String> + Copy {
    // Clamped again by the stylesheet's measure: a width saved on a wider window still leaves
    // the bars their room (240 px, plus the 72 px duration column).
    move || {
        width.get().map(|w| {
            let keep = MIN_BARS + DURATION_COLUMN;
            format!("--label-width: clamp({MIN_LABEL}px, {w:.0}px, calc(100% - {keep}px))")
        })
    }
}

/// The handle at the header's span column edge; `waterfall` is the element it resizes.
#[component]
pub fn LabelResize(
    width: RwSignal<Option<f64>>,
    waterfall: NodeRef<leptos::html::Div>,
) -> impl IntoView {
    let dragging = RwSignal::new(false);
    // The waterfall's left edge and width on screen.
    let frame = move || {
        waterfall
            .get_untracked()
            .map(|el| {
                let rect = el.get_bounding_client_rect();
                (rect.left(), rect.width())
            })
            .unwrap_or((0.0, 1_000.0))
    };
    let current = move |total: f64| {
        width
            .get_untracked()
            .unwrap_or_else(|| (total * 0.36).max(260.0))
    };
    let set = move |want: Option<f64>| {
        let total = frame().1;
        let chosen = want.map(|w| clamp_label_width(w, total));
        save(chosen);
        width.set(chosen);
    };
    let on_down = move |ev: leptos::ev::PointerEvent| {
        // The main button only: a right click opens the menu and never sends its pointerup.
        if ev.button() != 0 {
            return;
        }
        ev.prevent_default();
        capture(&ev);
        dragging.set(true);
    };
    let on_move = move |ev: leptos::ev::PointerEvent| {
        if dragging.get_untracked() {
            let (left, total) = frame();
            width.set(Some(clamp_label_width(
                f64::from(ev.client_x()) - left,
                total,
            )));
        }
    };
    let on_up = move |_: leptos::ev::PointerEvent| {
        if dragging.get_untracked() {
            dragging.set(false);
            save(width.get_untracked());
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let total = frame().1;
        let chosen = match ev.key().as_str() {
            "ArrowLeft" => Some(current(total) - KEY_STEP),
            "ArrowRight" => Some(current(total) + KEY_STEP),
            "Home" => None,
            _ => return,
        };
        // The tree's own arrow keys must not move the selection as well.
        ev.prevent_default();
        ev.stop_propagation();
        set(chosen);
    };
    view! {
        <span
            class="waterfall__resize"
            class:waterfall__resize--active=move || dragging.get()
            role="separator"
            aria-orientation="vertical"
            aria-label="Span column width (←/→, Home resets)"
            aria-valuenow=move || width.get().map(|w| format!("{w:.0}"))
            title="Drag to resize the span column; double-click resets it"
            tabindex="0"
            on:pointerdown=on_down
            on:pointermove=on_move
            on:pointerup=on_up
            on:pointercancel=on_up
            on:dblclick=move |_| set(None)
            on:keydown=on_key
            on:click=|ev: leptos::ev::MouseEvent| ev.stop_propagation()
        ></span>
    }
}

/// Keeps the pointer's moves coming to the handle while it drags past it.
fn capture(ev: &leptos::ev::PointerEvent) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        if let Some(el) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

fn saved() -> Option<f64> {
    #[cfg(feature = "hydrate")]
    {
        window()
            .local_storage()
            .ok()
            .flatten()
            .and_then(|storage| storage.get_item(WIDTH_KEY).ok().flatten())
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|w| w.is_finite() && *w >= MIN_LABEL)
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

fn save(width: Option<f64>) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = window().local_storage().ok().flatten() {
        let _ = match width {
            Some(w) => storage.set_item(WIDTH_KEY, &format!("{w:.0}")),
            None => storage.remove_item(WIDTH_KEY),
        };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = width;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_column_keeps_room_for_itself_and_the_bars() {
        assert_eq!(clamp_label_width(420.0, 1_200.0), 420.0);
        assert_eq!(clamp_label_width(40.0, 1_200.0), MIN_LABEL);
        assert_eq!(
            clamp_label_width(1_100.0, 1_200.0),
            1_200.0 - MIN_BARS - DURATION_COLUMN
        );
        // A waterfall too narrow for both: the column keeps its minimum.
        assert_eq!(clamp_label_width(300.0, 300.0), MIN_LABEL);
    }
}
