//! The colour scheme: the system's by default, or light/dark as chosen (kept in localStorage
//! and applied before the first paint by the shell's inline script).

use leptos::prelude::*;

/// Key in localStorage; the shell's script reads the same key.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const THEME_KEY: &str = "jobtrace-theme";

/// Runs before the page paints: applies a saved choice as `<html data-theme=…>`.
pub const THEME_SCRIPT: &str = "try{var t=localStorage.getItem('jobtrace-theme');if(t==='light'||t==='dark')document.documentElement.dataset.theme=t}catch(e){}";

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new("system".to_owned());
    Effect::new(move |_| theme.set(saved().unwrap_or_else(|| "system".to_owned())));
    let next = move |_| {
        let chosen = match theme.get_untracked().as_str() {
            "system" => "dark",
            "dark" => "light",
            _ => "system",
        };
        apply(chosen);
        theme.set(chosen.to_owned());
    };
    view! {
        <button
            class="button theme-toggle"
            type="button"
            aria-label="Colour scheme"
            title="Colour scheme: system, dark, light"
            on:click=next
        >
            {move || format!("Theme: {}", theme.get())}
        </button>
    }
}

fn saved() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        window()
            .local_storage()
            .ok()
            .flatten()
            .and_then(|storage| storage.get_item(THEME_KEY).ok().flatten())
            .filter(|t| t == "light" || t == "dark")
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

fn apply(theme: &str) {
    #[cfg(feature = "hydrate")]
    {
        let root = document().document_element();
        let storage = window().local_storage().ok().flatten();
        if theme == "system" {
            if let Some(root) = root {
                let _ = root.remove_attribute("data-theme");
            }
            if let Some(storage) = storage {
                let _ = storage.remove_item(THEME_KEY);
            }
        } else {
            if let Some(root) = root {
                let _ = root.set_attribute("data-theme", theme);
            }
            if let Some(storage) = storage {
                let _ = storage.set_item(THEME_KEY, theme);
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = theme;
}
