# jobtrace in a container: one static-enough binary (it links only libc, libm and libgcc) and the
# built site, run as a non-root user with the SQLite store on the /data volume.
#
#   docker build -t jobtrace .
#   docker run -p 3000:3000 -v jobtrace-data:/data jobtrace
#
# Not built on the development machine (it cannot download base images); what the image runs is
# tested there: tests/python/test_operations.py starts the binary from an empty directory holding
# only the binary and the site, as the runtime stage below lays them out.

FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-unknown-unknown \
 && apt-get update && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock.
RUN cargo install wasm-bindgen-cli --version 0.2.130
WORKDIR /src
COPY . .
RUN cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund \
 && cd .. && cargo build --release -p server --bin jobtrace && scripts/build-site.sh

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data jobtrace \
 && mkdir -p /data && chown jobtrace /data
COPY --from=build /src/target/release/jobtrace /usr/local/bin/jobtrace
COPY --from=build /src/target/site /usr/share/jobtrace/site
USER jobtrace
VOLUME /data
EXPOSE 3000
ENV JOBTRACE_ADDR=0.0.0.0:3000 \
    JOBTRACE_DATABASE_URL=sqlite:/data/jobtrace.db \
    JOBTRACE_SITE_ROOT=/usr/share/jobtrace/site \
    JOBTRACE_LOG_FORMAT=json
# Listening on 0.0.0.0 needs API tokens (JOBTRACE_API_TOKENS) or an explicit --insecure-public.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:3000/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/jobtrace"]
CMD ["serve"]
