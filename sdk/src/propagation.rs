//! Trace-context propagation: a job's W3C traceparent from its root span, and back to a parent.

use opentelemetry::Context;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};

/// `00-<trace id>-<span id>-<flags>`, the W3C form the server stores on the job.
pub(crate) fn trace_parent_of(context: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    )
}

/// The remote parent a traceparent names; an empty context if it is malformed.
pub(crate) fn parent_context(trace_parent: &str) -> Context {
    let parts: Vec<&str> = trace_parent.trim().split('-').collect();
    let parsed = match parts.as_slice() {
        [_, trace, span, flags, ..] => TraceId::from_hex(trace).ok().zip(
            SpanId::from_hex(span)
                .ok()
                .zip(u8::from_str_radix(flags, 16).ok()),
        ),
        _ => None,
    };
    match parsed {
        Some((trace_id, (span_id, flags))) => {
            Context::new().with_remote_span_context(SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::new(flags) | TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            ))
        }
        None => Context::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_trace_parent_round_trip() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parent_context(parent);
        let span = cx.span();
        assert_eq!(trace_parent_of(span.span_context()), parent);
        assert!(!parent_context("garbage").span().span_context().is_valid());
    }

    proptest::proptest! {
        #[test]
        fn test_any_traceparent_gives_a_context(text in ".{0,80}") {
            let _ = parent_context(&text);
        }
    }
}
