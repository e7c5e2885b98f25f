# jobtrace: `make run` serves the dashboard with demo jobs; `make test` runs every test.
.PHONY: deps build build-all run test lint test-rust test-python test-e2e bench bench-ui chaos fuzz

BIN := target/release/jobtrace
PG_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres

# Every cargo command of `make test` selects the same packages and features, so each crate is
# compiled once: the build below makes the binaries, examples, tests and benches, and
# `cargo test` afterwards only runs them. Clippy runs *inside* that build (as `cargo clippy`
# itself does, through RUSTC_WORKSPACE_WRAPPER) instead of a second, check-only pass over
# every dependency. docs/BUILD.md has the timings.
CARGO_SET := --release -p server -p app -p jobtrace-workflows --features app/ssr,jobtrace-workflows/arrow
CLIPPY_ENV := RUSTC_WORKSPACE_WRAPPER=$(shell rustup which clippy-driver 2>/dev/null || echo clippy-driver) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

deps:
	@scripts/deps.sh

# What `make run` needs and nothing more: the server binary and the browser bundle.
build: deps
	cargo build --release -p server --bin jobtrace
	scripts/build-site.sh

run: build
	$(BIN) serve --demo

# Formatting; every Rust target built once with clippy's lints as errors (server, app for the
# server, the Rust SDK with arrow; the browser bundle for wasm32); Rust unit, store-conformance
# (SQLite and PostgreSQL), router and SDK tests; then the real Python clients (with Rust
# runners) against the real binary; then Playwright in Debian's Chromium.
test: lint test-rust test-python test-e2e

lint: deps
	cargo fmt --check
	$(CLIPPY_ENV) cargo build $(CARGO_SET) --all-targets
	$(CLIPPY_ENV) scripts/build-site.sh

build-all: lint

test-rust: build-all
	JOBTRACE_TEST_PG_ADMIN_URL=$(PG_ADMIN_URL) $(CLIPPY_ENV) cargo test $(CARGO_SET)

test-python: build-all
	JOBTRACE_BIN=$(CURDIR)/$(BIN) JOBTRACE_TEST_PG_ADMIN_URL=$(PG_ADMIN_URL) .venv/bin/python -m pytest -q tests/python

test-e2e: build-all
	cd end2end && JOBTRACE_BIN=$(CURDIR)/$(BIN) node run.mjs

# Each benchmark prints its figure next to its baseline measured in the same run
# (docs/BENCHMARKS.md): the store benches in process, then the server over HTTP driven from
# Python (span fetch, memory and cold start, claims with the real client), then the dashboard
# in Chromium. BASELINE=<an older jobtrace binary> has the HTTP benches measure it alternately
# with this build (their baseline; without it they print this build's figures alone).
BASELINE ?=
PY := .venv/bin/python
bench: build
	$(CLIPPY_ENV) cargo bench -p server -p app -p jobtrace-workflows --features app/ssr,jobtrace-workflows/arrow --bench ingest --bench claims --bench job_list --bench task_stats --bench span_search
	for backend in sqlite postgres; do \
	  $(PY) scripts/bench_span_fetch.py --bin $(BIN) $(if $(BASELINE),--baseline $(BASELINE)) --backend $$backend --rounds 20 && \
	  $(PY) scripts/bench_memory_start.py --bin $(BIN) $(if $(BASELINE),--baseline $(BASELINE)) --backend $$backend && \
	  $(PY) scripts/bench_claims_python.py --bin $(BIN) --backend $$backend || exit 1; \
	done
	$(MAKE) bench-ui

# The job page with 10k and 100k spans in Chromium (docs/BENCHMARKS.md).
bench-ui: build
	cd end2end && JOBTRACE_BIN=$(CURDIR)/$(BIN) node bench/waterfall.mjs 10000 100000

# No task lost, none run twice: 10,000 tasks, 8 runner processes SIGKILLed every half second and
# restarted, the server SIGKILLed and restarted under them three times, on SQLite then
# PostgreSQL, bounded at 15 minutes each; then no hangs: 200 page renders, 300 live streams and
# ingest at once, on both (docs/RELIABILITY.md).
chaos: deps
	cargo build $(CARGO_SET) --bin jobtrace --example interop
	scripts/chaos_runners.py --bin $(BIN) --interop target/release/examples/interop --backend sqlite --server-kills 3
	scripts/chaos_runners.py --bin $(BIN) --interop target/release/examples/interop --backend postgres --server-kills 3
	scripts/load_pages.py --bin $(BIN) --backend sqlite
	scripts/load_pages.py --bin $(BIN) --backend postgres

# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of the parsers that take hostile input: OTLP
# protobuf and JSON bodies, SubmitJob messages, job-list URLs, task inputs (server/fuzz/, a
# workspace of its own). cargo-fuzz passes rustc -Z flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take them (no nightly can be fetched here). No sanitizer: jobtrace forbids unsafe
# code, and libFuzzer still catches panics, timeouts and memory beyond -rss_limit_mb.
# FUZZ_SECONDS per target, starting from the valid requests in server/fuzz/seeds/; a failing
# input is saved in server/fuzz/artifacts/ (docs/RELIABILITY.md).
FUZZ_SECONDS ?= 120
FUZZ_TARGETS := otlp_protobuf otlp_json submission query_params task_input
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd server && for target in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$target && \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $$target fuzz/corpus/$$target fuzz/seeds/$$target -- \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -max_len=65536 -timeout=10 -print_final_stats=1 || exit 1; \
	done
