//! Routed pages: each owns its params, resources and error display.

mod automations;
mod compare;
mod job;
mod job_list;
mod not_found;
mod tasks;

pub use automations::AutomationsPage;
pub use compare::ComparePage;
pub use job::JobPage;
pub use job_list::JobListPage;
pub use not_found::NotFoundPage;
pub use tasks::{TaskPage, TasksPage};
