-- Spans across traces by start time: `GET /api/v1/spans` without a trace (name, status,
-- service, attribute filters over "the last hour") pages in (start, span id) order, which this
-- walks from the window's start instead of reading every span (server/benches/span_search.rs).
CREATE INDEX IF NOT EXISTS spans_by_start ON spans (start_ns, span_id);
