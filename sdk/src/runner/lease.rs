//! A claimed task's lease: extended while the task runs, so no other runner starts it again.

use std::time::Duration;

use super::Caller;
use crate::ids::id_proto;
use crate::proto::workflows::v1 as wf;

/// Extends the lease as the server recommends until aborted or the server says the task is
/// no longer ours (lease 0: it finished, or our lease expired and another runner holds it).
/// Failed extensions are retried at the next interval. Each names `attempt`, the attempt this
/// runner holds.
pub(super) async fn keep_lease(
    caller: Caller,
    attempt: Option<i64>,
    task_id: uuid::Uuid,
    lease: wf::TaskLease,
) {
    let mut lease = lease;
    loop {
        let wait = lease
            .recommended_wait_until_next_extension
            .map_or(Duration::from_secs(5), duration_of)
            .max(Duration::from_millis(100));
        tokio::time::sleep(wait).await;
        let current = lease.lease.map_or(Duration::from_secs(10), duration_of);
        let request = wf::TaskLeaseRequest {
            task_id: Some(id_proto(task_id)),
            requested_lease: Some(duration_proto(current * 2)),
        };
        let answer = caller
            .service()
            .extend_task_lease(caller.request(request, attempt))
            .await;
        match answer {
            Ok(answer) => {
                let answer = answer.into_inner();
                if answer.lease.map_or(Duration::ZERO, duration_of).is_zero() {
                    return;
                }
                lease = answer;
            }
            Err(status) => tracing::warn!(%status, %task_id, "lease extension failed"),
        }
    }
}

pub(super) fn duration_of(d: prost_types::Duration) -> Duration {
    Duration::new(
        u64::try_from(d.seconds).unwrap_or_default(),
        u32::try_from(d.nanos).unwrap_or_default(),
    )
}

pub(super) fn duration_proto(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or_default(),
    }
}
