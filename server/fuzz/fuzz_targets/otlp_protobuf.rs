//! OTLP protobuf bodies (`/v1/traces`, `/v1/logs`, OTLP/gRPC): the budget counts the raw bytes
//! before anything is decoded; a body it lets through never decodes to more items than it
//! counted, and converts without a panic into items kept within their limits or rejected.
#![no_main]

use jobtrace::ingest::budget::{Budget, Signal, count_protobuf};
use jobtrace::ingest::{logs_from_request, spans_from_request};
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

#[path = "common.rs"]
mod common;

const BUDGET: Budget = Budget {
    items: 1_000,
    messages: 20_000,
};

fuzz_target!(|data: &[u8]| {
    let Some((&signal, body)) = data.split_first() else {
        return;
    };
    if signal % 2 == 0 {
        let Ok(counted) = count_protobuf(body, Signal::Traces, BUDGET) else {
            return;
        };
        let Ok(request) = ExportTraceServiceRequest::decode(body) else {
            return;
        };
        let spans = common::span_count(&request);
        assert!(
            spans <= counted.items,
            "{spans} spans decoded, {counted:?} counted"
        );
        let converted = spans_from_request(&request);
        let rejected = usize::try_from(converted.rejected).unwrap_or(usize::MAX);
        assert_eq!(converted.batch.spans.len() + rejected, spans);
        for span in &converted.batch.spans {
            assert!(!span.name.contains('\0'));
            assert!(span.end_ns >= span.start_ns);
            assert!(serde_json::from_str::<serde_json::Value>(&span.attributes_json).is_ok());
        }
    } else {
        let Ok(counted) = count_protobuf(body, Signal::Logs, BUDGET) else {
            return;
        };
        let Ok(request) = ExportLogsServiceRequest::decode(body) else {
            return;
        };
        let records = common::log_count(&request);
        assert!(
            records <= counted.items,
            "{records} records decoded, {counted:?} counted"
        );
        let converted = logs_from_request(&request);
        let rejected = usize::try_from(converted.rejected).unwrap_or(usize::MAX);
        assert_eq!(converted.batch.logs.len() + rejected, records);
        for log in &converted.batch.logs {
            assert!(!log.body.contains('\0'));
        }
    }
});
