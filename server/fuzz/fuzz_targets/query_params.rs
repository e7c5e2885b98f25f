//! The job list's URL query (`/jobs?…`, `/api/v1/jobs?…`): any query string is read or refused
//! with a message; a query that is read survives its own URL form unchanged.
#![no_main]

use app::model::JobListQuery;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let Ok(query) = JobListQuery::from_params(&params) else {
        return;
    };
    let again: Vec<(String, String)> = query
        .filter
        .to_params()
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    let filter = JobListQuery::from_params(&again)
        .unwrap_or_else(|error| panic!("{again:?} was written by to_params and refused: {error}"))
        .filter;
    assert_eq!(filter, query.filter);
});
