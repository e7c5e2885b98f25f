//! Job list filters and their URL form, shared by the page (links restore the list) and the
//! REST API (same parameter names).

use serde::{Deserialize, Serialize};

use super::{JobListQuery, JobState};

/// Which jobs the list shows. Every field narrows; `None`/empty means any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobFilter {
    pub states: Vec<JobState>,
    /// Name contains this, case-insensitive.
    pub name: Option<String>,
    /// Started in the last this many nanoseconds (`range=1h|24h|7d`); resolved to `from_ns`.
    pub within_ns: Option<i64>,
    /// Started in `[from_ns, to_ns)`.
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
    pub min_duration_ns: Option<i64>,
    pub max_duration_ns: Option<i64>,
    /// Has a task on this cluster (workflow jobs).
    pub cluster: Option<String>,
    /// One of its spans came from this service (`service.name`).
    pub service: Option<String>,
    pub has_errors: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobSort {
    /// Newest start first.
    #[default]
    Newest,
    /// Longest duration first.
    Longest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCount {
    pub state: JobState,
    pub count: i64,
}

/// The relative ranges the list offers.
pub const RANGES: [(&str, i64); 3] = [
    ("1h", 3_600_000_000_000),
    ("24h", 86_400_000_000_000),
    ("7d", 604_800_000_000_000),
];

fn seconds_to_ns(name: &str, text: &str) -> Result<i64, String> {
    if let Some(ns) = decimal_seconds_ns(text) {
        return ns.ok_or_else(|| format!("{name} is more seconds than jobtrace can count"));
    }
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{name} must be a number of seconds"))?;
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(format!("{name} must be a non-negative number of seconds"));
    }
    // Rounded: "1.234" s is 1233999999.9999998 ns in floating point.
    let ns = (seconds * 1e9).round();
    if ns >= i64::MAX as f64 {
        return Err(format!("{name} is more seconds than jobtrace can count"));
    }
    Ok(ns as i64)
}

/// Plain decimal seconds (`12`, `1.5`, `.25`) read exactly, to the nanosecond (a tenth digit
/// rounds): what [`seconds_text`] writes reads back the same, however many digits it has
/// (through floating point, `1.4333333` came back as 1.433). `None`: not a plain decimal (`1e3`
/// and the like go through floating point); `Some(None)`: too large.
fn decimal_seconds_ns(text: &str) -> Option<Option<i64>> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: i64 = match whole {
        "" => 0,
        _ => match whole.parse() {
            Ok(whole) => whole,
            Err(_) => return Some(None),
        },
    };
    let mut nanos: i64 = 0;
    for position in 0..9 {
        let digit = fraction.as_bytes().get(position).map_or(0, |b| b - b'0');
        nanos = nanos * 10 + i64::from(digit);
    }
    if fraction.as_bytes().get(9).is_some_and(|&b| b >= b'5') {
        nanos += 1;
    }
    Some(
        whole
            .checked_mul(1_000_000_000)
            .and_then(|ns| ns.checked_add(nanos)),
    )
}

/// Longest text a filter may look for, in bytes: names, keys and services are cut to 1 KiB at
/// ingest, so a longer one matches nothing, and SQLite refuses LIKE patterns over 50,000 bytes
/// (a 60 KB `name` filter was a 500).
pub const MAX_FILTER_TEXT: usize = 1024;

/// `value` as a filter's text, if it is within [`MAX_FILTER_TEXT`].
pub fn filter_text(name: &str, value: &str) -> Result<String, String> {
    if value.len() > MAX_FILTER_TEXT {
        return Err(format!(
            "{name} is at most {MAX_FILTER_TEXT} bytes, not {}",
            value.len()
        ));
    }
    Ok(value.to_owned())
}

/// RFC 3339 or unix nanoseconds.
fn time_ns(name: &str, text: &str) -> Result<i64, String> {
    if let Ok(ns) = text.parse::<i64>() {
        return Ok(ns);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| format!("{name} must be RFC 3339 or unix nanoseconds"))
}

/// Nanoseconds as decimal seconds, exactly (`1.5`, `0.000001`, `90`).
fn seconds_text(ns: i64) -> String {
    let ns = ns.max(0);
    let (whole, fraction) = (ns / 1_000_000_000, ns % 1_000_000_000);
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:09}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

impl JobFilter {
    /// Reads URL query parameters (`state`, `name`, `range`, `from`, `to`, `min_duration`,
    /// `max_duration` in seconds, `cluster`, `service`, `errors=yes|no`); empty values are
    /// ignored, unknown values are errors.
    pub fn from_params<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut filter = JobFilter::default();
        for (key, value) in params {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let text = || filter_text(key, value).map(Some);
            match key {
                "state" => {
                    for state in value.split(',').filter(|s| !s.is_empty()) {
                        let state = JobState::parse(state)
                            .ok_or_else(|| format!("unknown job state {state:?}"))?;
                        if !filter.states.contains(&state) {
                            filter.states.push(state);
                        }
                    }
                }
                "name" => filter.name = text()?,
                "range" => {
                    let within = RANGES
                        .iter()
                        .find(|(name, _)| *name == value)
                        .ok_or_else(|| format!("unknown range {value:?}: use 1h, 24h or 7d"))?;
                    filter.within_ns = Some(within.1);
                }
                "from" => filter.from_ns = Some(time_ns("from", value)?),
                "to" => filter.to_ns = Some(time_ns("to", value)?),
                "min_duration" => {
                    filter.min_duration_ns = Some(seconds_to_ns("min_duration", value)?);
                }
                "max_duration" => {
                    filter.max_duration_ns = Some(seconds_to_ns("max_duration", value)?);
                }
                "cluster" => filter.cluster = text()?,
                "service" => filter.service = text()?,
                "errors" => {
                    filter.has_errors = Some(match value {
                        "yes" | "true" | "1" => true,
                        "no" | "false" | "0" => false,
                        other => return Err(format!("errors must be yes or no, not {other:?}")),
                    });
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    /// The parameters that restore this filter (the inverse of [`JobFilter::from_params`]).
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        if !self.states.is_empty() {
            let states: Vec<&str> = self.states.iter().map(|s| s.as_str()).collect();
            params.push(("state", states.join(",")));
        }
        let mut text = |key, value: &Option<String>| {
            if let Some(value) = value {
                params.push((key, value.clone()));
            }
        };
        text("name", &self.name);
        text("cluster", &self.cluster);
        text("service", &self.service);
        if let Some(within) = self.within_ns
            && let Some((name, _)) = RANGES.iter().find(|(_, ns)| *ns == within)
        {
            params.push(("range", (*name).to_owned()));
        }
        if let Some(from) = self.from_ns {
            params.push(("from", from.to_string()));
        }
        if let Some(to) = self.to_ns {
            params.push(("to", to.to_string()));
        }
        if let Some(min) = self.min_duration_ns {
            params.push(("min_duration", seconds_text(min)));
        }
        if let Some(max) = self.max_duration_ns {
            params.push(("max_duration", seconds_text(max)));
        }
        if let Some(errors) = self.has_errors {
            params.push(("errors", if errors { "yes" } else { "no" }.to_owned()));
        }
        params
    }

    /// `within_ns` as an absolute lower bound, at `now_ns`.
    pub fn resolved(mut self, now_ns: i64) -> Self {
        if let Some(within) = self.within_ns {
            let from = now_ns.saturating_sub(within);
            self.from_ns = Some(self.from_ns.map_or(from, |f| f.max(from)));
        }
        self
    }
}

impl JobSort {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "" | "newest" | "start" => Ok(JobSort::Newest),
            "longest" | "duration" => Ok(JobSort::Longest),
            other => Err(format!("unknown sort {other:?}: use newest or longest")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobSort::Newest => "newest",
            JobSort::Longest => "longest",
        }
    }
}

/// The filter form's query as the address bar should show it: fields left empty (and the
/// default order) say nothing, so Apply does not write `name=&range=&…` into the URL.
pub fn filled_params(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            !key.is_empty() && !value.is_empty() && *pair != "sort=newest"
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Jobs one page of the list holds unless `limit` says otherwise.
pub const DEFAULT_JOB_PAGE: u32 = 50;

impl JobListQuery {
    /// Reads the job list's URL parameters: the filters ([`JobFilter::from_params`]), `sort`,
    /// `cursor` and `limit` (1–1000, [`DEFAULT_JOB_PAGE`] without one). The page and the REST
    /// API read the same parameters with this.
    pub fn from_params(params: &[(String, String)]) -> Result<Self, String> {
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, v)| k == key && !v.trim().is_empty())
                .map(|(_, v)| v.trim())
        };
        let limit = match get("limit") {
            Some(limit) => limit
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=1000).contains(l))
                .ok_or_else(|| "limit must be between 1 and 1000".to_owned())?,
            None => DEFAULT_JOB_PAGE,
        };
        Ok(JobListQuery {
            filter: JobFilter::from_params(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))?,
            sort: JobSort::parse(get("sort").unwrap_or(""))?,
            cursor: get("cursor").map(str::to_owned),
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_filled_params_drop_empty_fields_and_the_default_order() {
        assert_eq!(
            filled_params(
                "name=&state=FAILED&range=&min_duration=&max_duration=2.5&cluster=&service=&errors=&sort=newest"
            ),
            "state=FAILED&max_duration=2.5"
        );
        assert_eq!(
            filled_params("name=a%3Db&sort=longest"),
            "name=a%3Db&sort=longest"
        );
        assert_eq!(filled_params("=x&name&"), "");
        assert_eq!(filled_params(""), "");
    }

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn test_list_query_reads_filters_sort_cursor_and_limit() {
        let query = JobListQuery::from_params(&pairs(&[
            ("state", "FAILED"),
            ("sort", "longest"),
            ("cursor", "abc"),
            ("limit", "20"),
            ("name", ""),
        ]))
        .expect("valid parameters");
        assert_eq!(query.filter.states, [JobState::Failed]);
        assert_eq!(query.filter.name, None);
        assert_eq!(query.sort, JobSort::Longest);
        assert_eq!(query.cursor.as_deref(), Some("abc"));
        assert_eq!(query.limit, 20);
        let defaults = JobListQuery::from_params(&pairs(&[("cursor", " ")])).expect("defaults");
        assert_eq!(defaults.limit, DEFAULT_JOB_PAGE);
        assert_eq!(defaults.cursor, None);
        for bad in [
            ("limit", "0"),
            ("limit", "1001"),
            ("limit", "x"),
            ("sort", "oldest"),
        ] {
            assert!(
                JobListQuery::from_params(&pairs(&[bad])).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn test_params_round_trip() {
        let params = [
            ("state", "failed,RUNNING"),
            ("name", "scene"),
            ("range", "24h"),
            ("min_duration", "1.5"),
            ("cluster", "gpu"),
            ("service", "runner"),
            ("errors", "yes"),
            ("cursor", "ignored"),
        ];
        let filter = JobFilter::from_params(params).unwrap_or_default();
        assert_eq!(filter.states, vec![JobState::Failed, JobState::Running]);
        assert_eq!(filter.min_duration_ns, Some(1_500_000_000));
        assert_eq!(filter.within_ns, Some(86_400_000_000_000));
        let again: Vec<(&str, String)> = filter.to_params();
        let again =
            JobFilter::from_params(again.iter().map(|(k, v)| (*k, v.as_str()))).unwrap_or_default();
        assert_eq!(again, filter);
    }

    #[test]
    fn test_durations_keep_every_digit_through_their_url_form() {
        // The query_params fuzz target found `min_duration=1.4333333` written back as 1.433:
        // a link the page rewrites (Apply, the next page) filtered differently.
        for (text, ns) in [
            ("1.4333333", 1_433_333_300),
            ("0.000000001", 1),
            (".25", 250_000_000),
            ("86400", 86_400_000_000_000),
            ("1.9999999996", 2_000_000_000),
            ("1e3", 1_000_000_000_000),
        ] {
            let filter = JobFilter::from_params([("min_duration", text)]).unwrap_or_default();
            assert_eq!(filter.min_duration_ns, Some(ns), "{text}");
            let params = filter.to_params();
            let again = JobFilter::from_params(params.iter().map(|(k, v)| (*k, v.as_str())));
            assert_eq!(again, Ok(filter), "{text} written as {params:?}");
        }
        for huge in ["99999999999999999999", "1e10"] {
            let error = JobFilter::from_params([("max_duration", huge)])
                .err()
                .unwrap_or_default();
            assert!(error.contains("more seconds"), "{huge}: {error}");
        }
    }

    #[test]
    fn test_bad_params_say_what_is_wrong() {
        for (key, value, says) in [
            ("state", "sleeping", "job state"),
            ("range", "2w", "range"),
            ("min_duration", "-1", "non-negative"),
            ("from", "yesterday", "RFC 3339"),
            ("errors", "maybe", "yes or no"),
            (
                "name",
                &"n".repeat(MAX_FILTER_TEXT + 1),
                "at most 1024 bytes",
            ),
            ("service", &"s".repeat(60_000), "at most 1024 bytes"),
        ] {
            let error = JobFilter::from_params([(key, value)])
                .err()
                .unwrap_or_default();
            assert!(error.contains(says), "{key}={value}: {error}");
        }
    }

    #[test]
    fn test_range_resolves_against_now() {
        let filter = JobFilter {
            within_ns: Some(10),
            from_ns: Some(95),
            ..JobFilter::default()
        };
        assert_eq!(
            filter.resolved(100).from_ns,
            Some(95),
            "the later bound wins"
        );
        let filter = JobFilter {
            within_ns: Some(10),
            ..JobFilter::default()
        };
        assert_eq!(filter.resolved(100).from_ns, Some(90));
    }
}

/// Whatever the URL says, reading it answers (a filter or a message), and every filter the list
/// can express survives the trip through its URL form.
#[cfg(test)]
mod properties {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn filter() -> impl Strategy<Value = JobFilter> {
        let text = || proptest::option::of("[a-z0-9_%.-]{1,12}");
        // Any nanosecond count a link can hold (the fuzzer found sub-millisecond ones cut).
        let ms = || proptest::option::of(0i64..i64::MAX);
        (
            proptest::sample::subsequence(JobState::ALL.to_vec(), 0..=JobState::ALL.len()),
            (text(), text(), text()),
            proptest::option::of(proptest::sample::select(RANGES.map(|(_, ns)| ns).to_vec())),
            (
                proptest::option::of(any::<i64>()),
                proptest::option::of(any::<i64>()),
            ),
            (ms(), ms()),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(
                |(
                    states,
                    (name, cluster, service),
                    within_ns,
                    (from_ns, to_ns),
                    (min, max),
                    has_errors,
                )| {
                    JobFilter {
                        states,
                        name,
                        within_ns,
                        from_ns,
                        to_ns,
                        min_duration_ns: min,
                        max_duration_ns: max,
                        cluster,
                        service,
                        has_errors,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn test_filters_survive_their_url_form(filter in filter()) {
            let params = filter.to_params();
            let read = JobFilter::from_params(params.iter().map(|(k, v)| (*k, v.as_str())));
            prop_assert_eq!(read, Ok(filter));
        }

        #[test]
        fn test_any_parameters_are_read_or_refused(
            pairs in vec((proptest::sample::select(vec![
                "state", "name", "range", "from", "to", "min_duration", "max_duration", "cluster",
                "service", "errors", "sort", "cursor", "limit", "other",
            ]), ".{0,24}"), 0..8),
        ) {
            let owned: Vec<(String, String)> =
                pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
            let _ = JobListQuery::from_params(&owned);
        }
    }
}
