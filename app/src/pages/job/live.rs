//! The browser side of live updates: an EventSource per open job page, refetching its trace
//! when the job changed.

use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos::wasm_bindgen::closure::Closure;
use send_wrapper::SendWrapper;

use crate::error::AppError;
use crate::model::{JobTrace, JobVersion};

pub fn follow(id: String, trace: Resource<Result<JobTrace, AppError>>) {
    let Ok(source) = web_sys::EventSource::new(&format!("/api/v1/jobs/{id}/events")) else {
        return;
    };
    let on_job =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let Some(data) = ev.data().as_string() else {
                return;
            };
            // The event is the REST API's job JSON; its version fields say whether the page is stale.
            let Ok(pushed) = serde_json::from_str::<JobVersion>(&data) else {
                return;
            };
            let shown = trace.with_untracked(|t| match t {
                Some(Ok(t)) => Some(JobVersion::from(&t.job)),
                _ => None,
            });
            if shown.as_ref() != Some(&pushed) {
                trace.refetch();
            }
        });
    let closing = source.clone();
    // Finished: no more events; closing stops EventSource from reconnecting.
    let on_done = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| closing.close());
    let _ = source.add_event_listener_with_callback("job", on_job.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("done", on_done.as_ref().unchecked_ref());
    let held = SendWrapper::new((source, on_job, on_done));
    on_cleanup(move || held.take().0.close());
}
