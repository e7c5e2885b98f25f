//! The error type server functions return to the page: serializable, with a message for users.

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("the trace store failed; see the server log")]
    Store,
    #[error("server function failed: {0}")]
    ServerFn(ServerFnErrorErr),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::ServerFn(value)
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The HTTP status of a page that could not be rendered for this error.
    pub fn status(&self) -> http::StatusCode {
        match self {
            AppError::NotFound(_) => http::StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => http::StatusCode::BAD_REQUEST,
            AppError::Store | AppError::ServerFn(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
