# jobtrace: `make run` serves the dashboard with demo jobs; `make test` runs every test.
.PHONY: deps build run test test-rust test-python test-e2e bench bench-ui lint

BIN := target/release/jobtrace
PG_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres

deps:
	@scripts/deps.sh

build: deps
	cargo build --release -p server --bin jobtrace
	cargo build --release -p jobtrace-workflows --examples
	scripts/build-site.sh

run: build
	$(BIN) serve --demo

# Formatting and clippy (server, Rust SDK; app as wasm), Rust unit, store-conformance (SQLite
# and PostgreSQL), router and SDK tests; then the real Python clients (with Rust runners) against
# the real binary; then Playwright in Debian's Chromium.
test: build lint test-rust test-python test-e2e

test-rust:
	JOBTRACE_TEST_PG_ADMIN_URL=$(PG_ADMIN_URL) cargo test --release -p server -p app -p jobtrace-workflows --features app/ssr,jobtrace-workflows/polars

test-python:
	JOBTRACE_BIN=$(CURDIR)/$(BIN) JOBTRACE_TEST_PG_ADMIN_URL=$(PG_ADMIN_URL) .venv/bin/python -m pytest -q tests/python

test-e2e:
	cd end2end && JOBTRACE_BIN=$(CURDIR)/$(BIN) node run.mjs

bench:
	cargo bench -p server --bench ingest

# The job page with 10k and 100k spans in Chromium (docs/BENCHMARKS.md).
bench-ui: build
	cd end2end && JOBTRACE_BIN=$(CURDIR)/$(BIN) node bench/waterfall.mjs 10000 100000

lint:
	cargo fmt --check
	cargo clippy --release -p server -p jobtrace-workflows --all-targets --features jobtrace-workflows/polars -- -D warnings
	cargo clippy -p app --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings
