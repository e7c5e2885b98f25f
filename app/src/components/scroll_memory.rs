//! Where the job page's scrolling boxes (the span rows, the runner lanes) were scrolled, kept
//! across the live reloads that rebuild them: a running job's page must not jump back to the
//! top each time new spans arrive. The job page provides it (and forgets it for another job);
//! the boxes restore it when they mount and note it as they scroll.

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

/// Scrolls `element` to where `memory` says (when it says anything): the box was rebuilt.
/// Returns where it now is.
#[cfg(feature = "hydrate")]
pub fn restore_scroll(element: &web_sys::Element, memory: Option<StoredValue<f64>>) -> f64 {
    if let Some(top) = memory.map(|m| m.get_value()).filter(|top| *top > 0.0) {
        element.set_scroll_top(top as i32);
    }
    f64::from(element.scroll_top())
}
