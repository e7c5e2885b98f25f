//! The browser side of live updates: an EventSource per open job page, reloading its trace
//! when the job changed, paced by what the last reload cost the page (`model::live_pace`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos::wasm_bindgen::closure::Closure;
use send_wrapper::SendWrapper;

use crate::error::AppError;
use crate::model::live_pace::RefreshPace;
use crate::model::{JobTrace, JobVersion};

type Trace = Resource<Result<JobTrace, AppError>>;

/// What one page knows of its job's changes and its reloads.
#[derive(Default)]
struct Follow {
    pace: RefreshPace,
    /// The job as the server last announced it.
    announced: Option<JobVersion>,
    /// A reload is waiting for the pace to allow it.
    scheduled: bool,
    /// The page is gone: a scheduled reload must not touch its disposed trace.
    stopped: bool,
    /// Counts the reloads asked for: the first of a frame and a timer to see one's answer ends
    /// it, the other then finds it ended (or a newer reload) and leaves it.
    reloads: u64,
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// Reloads the trace now if it is stale and the pace allows, or schedules one reload for when
/// it does.
fn consider(state: &Rc<RefCell<Follow>>, trace: Trace) {
    let mut follow = state.borrow_mut();
    if follow.stopped || follow.pace.busy(now()) || follow.scheduled || follow.announced.is_none() {
        return;
    }
    let shown = trace.with_untracked(|t| match t {
        Some(Ok(t)) => Some(JobVersion::from(&t.job)),
        _ => None,
    });
    if shown.as_ref() == follow.announced.as_ref() {
        return;
    }
    let wait = follow.pace.wait(now());
    if wait <= 0.0 {
        follow.pace.begin(now());
        follow.reloads += 1;
        drop(follow);
        trace.refetch();
        return;
    }
    follow.scheduled = true;
    drop(follow);
    let state = Rc::clone(state);
    set_timeout(
        move || {
            state.borrow_mut().scheduled = false;
            consider(&state, trace);
        },
        Duration::from_secs_f64(wait / 1000.0),
    );
}

pub fn follow(id: String, trace: Trace) {
    let Ok(source) = web_sys::EventSource::new(&format!("/api/v1/jobs/{id}/events")) else {
        return;
    };
    let state = Rc::new(RefCell::new(Follow::default()));
    let on_job = {
        let state = Rc::clone(&state);
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let Some(data) = ev.data().as_string() else {
                return;
            };
            // The event is the REST API's job JSON; its version fields say whether the page is
            // stale.
            let Ok(pushed) = serde_json::from_str::<JobVersion>(&data) else {
                return;
            };
            state.borrow_mut().announced = Some(pushed);
            consider(&state, trace);
        })
    };
    // A reload ends when its trace is shown: the frame after the new value arrived, or, where no
    // frame comes (a hidden tab), a quarter second after. Then what was announced meanwhile is
    // considered.
    let shown = SendWrapper::new(Rc::clone(&state));
    Effect::new(move |_| {
        trace.track();
        let follow = shown.borrow();
        if follow.stopped || !follow.pace.busy(now()) {
            return;
        }
        let (reload, arrived) = (follow.reloads, now());
        drop(follow);
        let end = {
            let state = Rc::clone(&shown);
            move || {
                let mut follow = state.borrow_mut();
                if follow.reloads != reload || !follow.pace.busy(now()) {
                    return;
                }
                follow.pace.end(arrived, now());
                drop(follow);
                consider(&state, trace);
            }
        };
        request_animation_frame(end.clone());
        set_timeout(end, Duration::from_millis(250));
    });
    let closing = source.clone();
    // Finished: no more events; closing stops EventSource from reconnecting.
    let on_done = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| closing.close());
    let _ = source.add_event_listener_with_callback("job", on_job.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("done", on_done.as_ref().unchecked_ref());
    let held = SendWrapper::new((source, on_job, on_done, state));
    on_cleanup(move || {
        let (source, _, _, state) = held.take();
        state.borrow_mut().stopped = true;
        source.close();
    });
}
