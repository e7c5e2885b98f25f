#!/usr/bin/env bash
# Builds the browser side into target/site, the job cargo-leptos would do, from tools installed
# from the package registries only: the app crate for wasm32 (feature hydrate), wasm-bindgen
# (the version pinned in Cargo.toml), wasm-opt from npm's binaryen, CSS and public/.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${WASM_PROFILE:-wasm-release}
site=target/site
pkg=$site/pkg

cargo build -p app --lib --target wasm32-unknown-unknown --profile "$profile" --features hydrate

mkdir -p "$pkg"
wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name jobtrace \
  "target/wasm32-unknown-unknown/$profile/app.wasm"

# Leptos' hydration script loads <name>.wasm (cargo-leptos renames wasm-bindgen's <name>_bg.wasm).
mv "$pkg/jobtrace_bg.wasm" "$pkg/jobtrace.wasm"

# Debian's wasm-opt (v108) silently breaks the bundle; npm's binaryen works.
wasm_opt=end2end/node_modules/.bin/wasm-opt
if [ "$profile" = wasm-release ] && [ -x "$wasm_opt" ]; then
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-reference-types --enable-multivalue --enable-mutable-globals \
    "$pkg/jobtrace.wasm" -o "$pkg/jobtrace.wasm.opt"
  mv "$pkg/jobtrace.wasm.opt" "$pkg/jobtrace.wasm"
fi

# Tokens first, then one partial per component.
{
  cat style/main.css
  for partial in style/*.css; do
    [ "$partial" = style/main.css ] || cat "$partial"
  done
} > "$pkg/jobtrace.css"

cp -r public/. "$site/"
echo "site built in $site ($(du -h "$pkg/jobtrace.wasm" | cut -f1) wasm)"
