#!/usr/bin/env bash
# Builds the JavaScript library as an npm package directory, offline:
#
#   bash build/npm-package.sh [OUT_DIR]        (default: pkg/)
#
# OUT_DIR gets the ES module (profile.js, wasm-bindgen --target web), its
# Wasm (profile_bg.wasm, wasm-opt -Oz), the TypeScript types (profile.d.ts:
# wasm-bindgen's, with the report's types from src/bin/profile_js.rs),
# widget.css (for renderHtml's markup), package.json (js/package.json with the
# crate's version) and README.md. Check it with `npm pack --dry-run OUT_DIR`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-pkg}
rm -rf "$out"
mkdir -p "$out"
bash build/wasm.sh profile_js profile "$out" release --typescript
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
sed "s/@VERSION@/$version/" js/package.json > "$out/package.json"
cp js/README.md "$out/README.md"
cp www/widget/widget.css "$out/widget.css"
echo "npm package in $out (version $version)" >&2
