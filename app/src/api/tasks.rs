//! Server functions for the task analytics pages.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{TaskAnalytics, TaskDetail};

/// Every task identifier's runs over the last `days` days.
#[server(input = server_fn::codec::GetUrl)]
pub async fn load_task_analytics(days: u32) -> Result<TaskAnalytics, AppError> {
    use crate::api::port;
    port()?.task_analytics(days).await
}

/// One task identifier's runs over the last `days` days, per version and day, with its slowest
/// runs.
#[server(input = server_fn::codec::GetUrl)]
pub async fn load_task_detail(name: String, days: u32) -> Result<TaskDetail, AppError> {
    use crate::api::port;
    port()?.task_detail(&name, days).await
}
