//! How task types are named: the `TaskIdentifier` runners match on, the display name spans show.

use std::fmt;

use crate::error::{Error, short_type_name};

/// What a runner matches tasks on: a name and a `vMAJOR.MINOR` version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskIdentifier {
    pub name: String,
    pub version: String,
}

impl TaskIdentifier {
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        TaskIdentifier {
            name: name.into(),
            version: version.into(),
        }
    }

    /// The Python client's rules: a name of 1–256 characters, a version `v<major>.<minor>`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.is_empty() || self.name.chars().count() > 256 {
            return Err(Error::Submission(format!(
                "task name {:?} must have 1 to 256 characters",
                self.name
            )));
        }
        let valid_version = self.version.strip_prefix('v').is_some_and(|rest| {
            rest.split_once('.').is_some_and(|(major, minor)| {
                [major, minor]
                    .iter()
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            })
        });
        if !valid_version {
            return Err(Error::Submission(format!(
                "task version {:?} must look like v1.2",
                self.version
            )));
        }
        Ok(())
    }
}

impl fmt::Display for TaskIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// The type's name without module path: the task's display name and span name (`task/<name>`).
pub(crate) fn type_display<T: ?Sized>() -> String {
    short_type_name(std::any::type_name::<T>())
}
