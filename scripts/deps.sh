#!/usr/bin/env bash
# Installs what a fresh machine lacks, from the package registries only (crates.io, npm, PyPI,
# Debian). Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "deps: $*"; }

# Clippy runs inside the builds (RUSTC_WORKSPACE_WRAPPER, see the Makefile); rustfmt checks.
for component in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$component"; then
    log "adding the $component component"
    rustup component add "$component"
  fi
done

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock exactly.
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (about 6 minutes, once)"
  # Without --locked: its lockfile wants a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "$want"
fi

missing_apt=()
[ -x /usr/bin/chromium ] || missing_apt+=(chromium)
command -v psql >/dev/null || missing_apt+=(postgresql-client)
if [ ${#missing_apt[@]} -gt 0 ]; then
  log "installing ${missing_apt[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y "${missing_apt[@]}" || { apt-get update && apt-get install -y "${missing_apt[@]}"; }
fi

# Playwright (its browser download is skipped: Debian's chromium is used) and binaryen's wasm-opt.
if [ ! -f end2end/node_modules/.package-lock.json ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  log "installing npm packages in end2end/"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# Python packages for the tests that drive real OpenTelemetry and Tilebox clients.
if [ ! -f .venv/.installed ] || [ tests/python/requirements.txt -nt .venv/.installed ]; then
  log "creating the Python test venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  touch .venv/.installed
fi
