-- Spans across traces by start time: `GET /api/v1/spans` without a trace (name, status,
-- service, attribute filters over "the last hour") pages in (start, span id) order, which this
-- walks from the window's start instead of reading every span (server/benches/span_search.rs).
CREATE INDEX IF NOT EXISTS spans_by_start ON spans (start_ns, span_id);
-- Upgrading a large store builds it at the first start of the new version, while span writes
-- wait (a plain CREATE INDEX: CONCURRENTLY cannot run inside the migration's transaction, and
-- outside one it would wait on the other replicas queued for the migration lock). An operator
-- can build it beforehand with CREATE INDEX CONCURRENTLY: IF NOT EXISTS then skips it
-- (docs/DEPLOY.md, "Upgrades that build an index").
