//! Who the runner is to the server: the name it reports under and the attempt it names, so
//! that only the holder of a task's current attempt is believed.

use std::sync::Arc;

use tonic::transport::Channel;

use crate::client::Client;
use crate::proto::workflows::v1 as wf;

/// The runner as the server knows it: its client and the name it reports under.
#[derive(Clone)]
pub(super) struct Caller {
    pub(super) client: Client,
    /// `host:pid:random`, unique per runner (two runners of one process are two holders).
    pub(super) id: Arc<str>,
}

/// The metadata naming the runner and the attempt it reports on (the server's
/// `grpc::RUNNER_HEADER` and `ATTEMPT_HEADER`): the server accepts lease extensions, results
/// and failures only from the holder of a task's current attempt.
const RUNNER_HEADER: &str = "x-jobtrace-runner";
const ATTEMPT_HEADER: &str = "x-jobtrace-attempt";

impl Caller {
    pub(super) fn new(client: Client) -> Self {
        let host = crate::telemetry::hostname()
            .map(|h| h.chars().filter(char::is_ascii_graphic).take(64).collect())
            .unwrap_or_else(|| "unknown".to_owned());
        let random = uuid::Uuid::new_v4().simple().to_string();
        let id = format!("{host}:{}:{}", std::process::id(), &random[..8]);
        Caller {
            client,
            id: id.into(),
        }
    }

    /// A request with the token, this runner's name and, for reports on a task, its attempt.
    pub(super) fn request<T>(&self, message: T, attempt: Option<i64>) -> tonic::Request<T> {
        let mut request = self.client.request(message);
        let metadata = request.metadata_mut();
        if let Ok(id) = self.id.parse() {
            metadata.insert(RUNNER_HEADER, id);
        }
        if let Some(attempt) = attempt
            && let Ok(value) = attempt.to_string().parse()
        {
            metadata.insert(ATTEMPT_HEADER, value);
        }
        request
    }

    pub(super) fn service(&self) -> wf::task_service_client::TaskServiceClient<Channel> {
        wf::task_service_client::TaskServiceClient::new(self.client.channel.clone())
    }
}

/// The attempt the server started with a claimed task (absent from older servers).
pub(super) fn attempt_of<T>(response: &tonic::Response<T>) -> Option<i64> {
    response
        .metadata()
        .get(ATTEMPT_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}
