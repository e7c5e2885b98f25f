//! The connection to the server: address, bearer token, gRPC channel, telemetry export.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::error::Error;
use crate::telemetry::{Telemetry, TelemetryConfig};

/// A connection to a jobtrace (or Tilebox) server. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(crate) channel: Channel,
    token: String,
    url: String,
    pub(crate) telemetry: Telemetry,
}

impl Client {
    /// Connects (lazily: the first call dials, and every call after a failure dials again) to
    /// `url`, e.g. `http://127.0.0.1:8080`. Telemetry goes to the same server and to what
    /// [`TelemetryConfig::from_env`] adds. Must be called inside a Tokio runtime.
    pub fn new(url: &str, token: &str) -> Result<Self, Error> {
        Self::with_telemetry(url, token, TelemetryConfig::from_env())
    }

    /// Like [`Client::new`] with explicit telemetry settings (service name, extra exporters).
    pub fn with_telemetry(url: &str, token: &str, config: TelemetryConfig) -> Result<Self, Error> {
        let url = url.trim_end_matches('/').to_owned();
        let connect_error = |message: String| Error::Connect {
            url: url.clone(),
            message,
        };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| connect_error(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            // A frozen server must not hold a runner (and its lease extensions) for long.
            .timeout(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        let channel = endpoint.connect_lazy();
        let telemetry = Telemetry::start(&url, token, config)?;
        Ok(Client {
            channel,
            token: token.to_owned(),
            url,
            telemetry,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// A request carrying the bearer token, as the Python client sends it.
    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if !self.token.is_empty()
            && let Ok(value) = format!("Bearer {}", self.token).parse()
        {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }
}
