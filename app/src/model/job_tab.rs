//! The job page's tabs, kept in the URL's `tab`: the trace first (no `tab`), then the task
//! table and the job's logs.

/// One tab of the job page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobTab {
    /// The waterfall (or runner lanes, `view=lanes`) with the span panel.
    Trace,
    Tasks,
    Logs,
}

impl JobTab {
    pub const ALL: [JobTab; 3] = [JobTab::Trace, JobTab::Tasks, JobTab::Logs];

    /// The tab a URL's `tab` names; anything else is the trace.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("tasks") => JobTab::Tasks,
            Some("logs") => JobTab::Logs,
            _ => JobTab::Trace,
        }
    }

    /// Its `tab` value; `None` for the trace (the default, so links stay short).
    pub fn param(self) -> Option<&'static str> {
        match self {
            JobTab::Trace => None,
            JobTab::Tasks => Some("tasks"),
            JobTab::Logs => Some("logs"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            JobTab::Trace => "Trace",
            JobTab::Tasks => "Tasks",
            JobTab::Logs => "Logs",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_tab_round_trips_through_its_param_and_unknown_is_the_trace() {
        for tab in JobTab::ALL {
            assert_eq!(JobTab::parse(tab.param()), tab);
        }
        assert_eq!(JobTab::parse(Some("lanes")), JobTab::Trace);
        assert_eq!(JobTab::parse(None), JobTab::Trace);
    }
}
