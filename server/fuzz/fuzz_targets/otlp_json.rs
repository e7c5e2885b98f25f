//! OTLP/JSON bodies: counted before they are parsed (a JSON body within the budget never parses
//! to more spans than counted), then converted without a panic.
#![no_main]

use jobtrace::ingest::budget::{Budget, count_json};
use jobtrace::ingest::spans_from_request;
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

#[path = "common.rs"]
mod common;

const BUDGET: Budget = Budget {
    items: 1_000,
    messages: 20_000,
};

fuzz_target!(|body: &[u8]| {
    let Ok(counted) = count_json(body, BUDGET) else {
        return;
    };
    let Ok(request) = serde_json::from_slice::<ExportTraceServiceRequest>(body) else {
        return;
    };
    let spans = common::span_count(&request);
    assert!(
        spans <= counted.items,
        "{spans} spans parsed, {counted:?} counted"
    );
    let converted = spans_from_request(&request);
    let rejected = usize::try_from(converted.rejected).unwrap_or(usize::MAX);
    assert_eq!(converted.batch.spans.len() + rejected, spans);
});
