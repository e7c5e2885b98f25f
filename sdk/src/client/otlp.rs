//! OTLP read back: the server's span and log query service, attribute values as JSON, times.

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as OtlpKeyValue, any_value};
use tonic::transport::Channel;

use super::jobs::JobClient;
use crate::proto::workflows::v1 as wf;

impl JobClient {
    /// The service that reads a job's spans and logs (`TelemetryQueryService` on the wire).
    pub(super) fn query_service(
        &self,
    ) -> wf::telemetry_query_service_client::TelemetryQueryServiceClient<Channel> {
        wf::telemetry_query_service_client::TelemetryQueryServiceClient::new(
            self.client.channel.clone(),
        )
    }
}

pub(super) fn time_of(unix_nanos: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(i64::try_from(unix_nanos).unwrap_or(i64::MAX))
}

pub(super) fn attributes_json(
    attributes: &[OtlpKeyValue],
) -> serde_json::Map<String, serde_json::Value> {
    attributes
        .iter()
        .map(|kv| {
            let value = kv
                .value
                .as_ref()
                .map_or(serde_json::Value::Null, value_json);
            (kv.key.clone(), value)
        })
        .collect()
}

pub(super) fn value_json(value: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &value.value {
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => J::from(*d),
        // Base64, as the server stores bytes values on ingest (`server/src/ingest/otlp.rs`).
        Some(any_value::Value::BytesValue(b)) => {
            use base64::Engine;
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(any_value::Value::ArrayValue(array)) => {
            J::Array(array.values.iter().map(value_json).collect())
        }
        Some(any_value::Value::KvlistValue(list)) => J::Object(attributes_json(&list.values)),
        _ => J::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_values_read_back_as_the_server_stores_them() {
        let bytes = AnyValue {
            value: Some(any_value::Value::BytesValue(vec![0, 1, 0xff])),
        };
        assert_eq!(value_json(&bytes), serde_json::json!("AAH/"));
        let int = AnyValue {
            value: Some(any_value::Value::IntValue(-3)),
        };
        assert_eq!(value_json(&int), serde_json::json!(-3));
    }
}
