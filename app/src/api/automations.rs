//! Server functions for the automations page.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::AutomationView;

/// Every cron automation with its next runs and latest jobs.
#[server(input = server_fn::codec::GetUrl)]
pub async fn list_automations() -> Result<Vec<AutomationView>, AppError> {
    use crate::api::port;
    port()?.automations().await
}
