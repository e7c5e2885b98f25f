//! A button that copies text (or, without text, the page's current link) to the clipboard.

use leptos::prelude::*;

#[component]
pub fn CopyButton(
    /// What the button says.
    label: &'static str,
    /// What it says for a moment after copying.
    copied: &'static str,
    /// The text to copy; `None` copies the current URL (the view as the URL holds it).
    text: Option<String>,
) -> impl IntoView {
    let done = RwSignal::new(false);
    let on_click = move |ev: leptos::ev::MouseEvent| {
        ev.stop_propagation();
        copy(text.clone());
        done.set(true);
        set_timeout(
            move || done.set(false),
            std::time::Duration::from_millis(1500),
        );
    };
    view! {
        <button class="button copy-button" type="button" on:click=on_click>
            {move || if done.get() { copied } else { label }}
        </button>
    }
}

fn copy(text: Option<String>) {
    #[cfg(feature = "hydrate")]
    {
        let text = text.or_else(|| window().location().href().ok());
        if let Some(text) = text {
            // The promise's outcome is not awaited: the label confirms the attempt.
            let _ = window().navigator().clipboard().write_text(&text);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}
