//! How times are written: UTC (what the server renders), the browser's zone, or "how long ago".
//! The choice is kept in localStorage and applied once the page is hydrated; every time on the
//! page reads it through [`Clock`], so one click rewrites them all in place.

use leptos::prelude::*;

use crate::model::{TimeMode, format_local_ns, format_relative_ns, format_time_ns};

/// Key in localStorage.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const TIME_KEY: &str = "jobtrace-time";

/// How often relative times move on.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const TICK_MS: u64 = 10_000;

/// The page's time choice and, for relative times, its "now".
#[derive(Clone, Copy)]
pub struct Clock {
    mode: RwSignal<TimeMode>,
    now_ns: RwSignal<i64>,
}

impl Clock {
    /// Reads the choice (so a closure calling it follows the toggle).
    pub fn format(&self, ns: i64) -> String {
        match self.mode.get() {
            TimeMode::Utc => format_time_ns(ns),
            TimeMode::Local => format_local_ns(ns, local_offset_minutes(ns)),
            TimeMode::Relative => format_relative_ns(ns, self.now_ns.get()),
        }
    }
}

/// The clock the app provides; a fresh UTC one where none is (a component rendered alone).
pub fn use_clock() -> Clock {
    use_context::<Clock>().unwrap_or_else(|| Clock {
        mode: RwSignal::new(TimeMode::Utc),
        now_ns: RwSignal::new(0),
    })
}

/// Provides the [`Clock`] for the whole app; call once at its root.
pub fn provide_clock() {
    let clock = Clock {
        mode: RwSignal::new(TimeMode::Utc),
        now_ns: RwSignal::new(now_ns()),
    };
    provide_context(clock);
    // After hydration (the server rendered UTC): the saved choice, and a tick for "ago".
    Effect::new(move |_| {
        if let Some(mode) = saved() {
            clock.now_ns.set(now_ns());
            clock.mode.set(mode);
        }
    });
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let tick = set_interval_with_handle(
            move || {
                if clock.mode.get_untracked() == TimeMode::Relative {
                    clock.now_ns.set(now_ns());
                }
            },
            std::time::Duration::from_millis(TICK_MS),
        );
        if let Ok(tick) = tick {
            on_cleanup(move || tick.clear());
        }
    });
}

#[component]
pub fn TimeToggle() -> impl IntoView {
    let clock = use_clock();
    let next = move |_| {
        let chosen = clock.mode.get_untracked().next();
        save(chosen);
        clock.now_ns.set(now_ns());
        clock.mode.set(chosen);
    };
    let label = move || match clock.mode.get() {
        TimeMode::Utc => "Times: UTC",
        TimeMode::Local => "Times: local",
        TimeMode::Relative => "Times: ago",
    };
    view! {
        <button
            class="button time-toggle"
            type="button"
            aria-label="How times are shown"
            title="Times: UTC, your local zone, or how long ago"
            on:click=next
        >
            {label}
        </button>
    }
}

fn saved() -> Option<TimeMode> {
    #[cfg(feature = "hydrate")]
    {
        window()
            .local_storage()
            .ok()
            .flatten()
            .and_then(|storage| storage.get_item(TIME_KEY).ok().flatten())
            .and_then(|text| TimeMode::parse(&text))
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

fn save(mode: TimeMode) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = window().local_storage().ok().flatten() {
        let _ = match mode {
            TimeMode::Utc => storage.remove_item(TIME_KEY),
            other => storage.set_item(TIME_KEY, other.as_str()),
        };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = mode;
}

/// Minutes east of UTC in the browser's zone at that moment (summer time included).
fn local_offset_minutes(ns: i64) -> i32 {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64((ns / 1_000_000) as f64));
        -(date.get_timezone_offset() as i32)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ns;
        0
    }
}

fn now_ns() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        (js_sys::Date::now() * 1e6) as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or_default()
    }
}
