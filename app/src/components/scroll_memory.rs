//! The job page's scrolling boxes (the span rows, the runner lanes), which render only what is
//! near their visible part: where each is scrolled and how tall it shows ([`ScrollBox`]), and
//! where it was scrolled, kept across the live reloads that rebuild them ([`ScrollMemory`]): a
//! running job's page must not jump back to the top each time new spans arrive. The job page
//! provides the memory (and forgets it for another job); the boxes restore it when they mount
//! and note it as they scroll.

use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct ScrollMemory {
    pub rows: StoredValue<f64>,
    pub lanes: StoredValue<f64>,
}

impl ScrollMemory {
    /// A memory for the page being built, in its context.
    pub fn provide() -> Self {
        let memory = ScrollMemory {
            rows: StoredValue::new(0.0),
            lanes: StoredValue::new(0.0),
        };
        provide_context(memory);
        memory
    }

    /// Back to the top (another job's page).
    pub fn forget(self) {
        self.rows.set_value(0.0);
        self.lanes.set_value(0.0);
    }
}

/// The page's scroll memory, if it keeps one.
pub fn use_scroll_memory() -> Option<ScrollMemory> {
    use_context::<ScrollMemory>()
}

/// One scrolling box's position and visible height, as the signals its window of rendered
/// rows or lanes reads, with the page's memory of where it was.
#[derive(Clone, Copy)]
pub struct ScrollBox {
    /// How far it is scrolled, px.
    pub top: RwSignal<f64>,
    /// How tall its visible part is, px.
    pub height: RwSignal<f64>,
    memory: Option<StoredValue<f64>>,
}

impl ScrollBox {
    /// A box not yet in the browser: at the top, `first_height` tall (what the server renders).
    pub fn new(first_height: f64, memory: Option<StoredValue<f64>>) -> Self {
        ScrollBox {
            top: RwSignal::new(0.0),
            height: RwSignal::new(first_height),
            memory,
        }
    }

    /// The box scrolled (its `scroll` event).
    pub fn on_scroll(self, ev: leptos::ev::Event) {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            if let Some(el) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            {
                let top = f64::from(el.scroll_top());
                self.top.set(top);
                self.height.set(f64::from(el.client_height()));
                if let Some(memory) = self.memory {
                    memory.set_value(top);
                }
            }
        }
        // Without the browser there is no scrolling.
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, self.top, self.height, self.memory);
    }

    /// The box is in the browser (call from an effect): its real height (at least
    /// `min_height`), scrolled back to where the memory says, and its height read again each
    /// time the window is resized (a taller window shows more rows or lanes than were rendered
    /// for the old height, which stayed blank until the next scroll).
    #[cfg(feature = "hydrate")]
    pub fn mounted(self, element: web_sys::Element, min_height: f64) {
        self.height
            .set(f64::from(element.client_height()).max(min_height));
        if let Some(top) = self.memory.map(|m| m.get_value()).filter(|top| *top > 0.0) {
            element.set_scroll_top(top as i32);
        }
        self.top.set(f64::from(element.scroll_top()));
        let height = self.height;
        let handle = window_event_listener(leptos::ev::resize, move |_| {
            height.set(f64::from(element.client_height()).max(min_height));
        });
        on_cleanup(move || handle.remove());
    }
}
