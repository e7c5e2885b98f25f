//! `SubmitJob` bodies from any client: the protobuf message decodes or not; a decoded one is
//! turned into task specs (groups, lookup pointers, dependency indexes) or refused with a
//! status, never a panic or an allocation beyond the submission limits; its traceparent is read
//! or refused.
#![no_main]

use jobtrace::grpc::convert::{legacy_task_specs, task_specs, trace_id_of};
use jobtrace::grpc::proto::workflows::v1::SubmitJobRequest;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = SubmitJobRequest::decode(data) else {
        return;
    };
    match &request.tasks {
        Some(submissions) if !submissions.task_groups.is_empty() => {
            if let Ok(specs) = task_specs(submissions) {
                // Groups name each other by index; what they become must be tasks of this
                // submission (the store then refuses self-dependencies and cycles).
                for spec in &specs {
                    assert!(spec.depends_on.iter().all(|&d| d < specs.len()));
                }
            }
        }
        _ => {
            let _ = legacy_task_specs(&request.legacy_tasks);
        }
    }
    let _ = trace_id_of(&request.trace_parent);
});
