#!/usr/bin/env bash
# Builds one of the crate's Wasm binaries and binds it for the web:
#
#   bash build/wasm.sh BIN OUT_NAME OUT_DIR [release|debug] [--typescript]
#
# writes OUT_DIR/OUT_NAME.js and OUT_DIR/OUT_NAME_bg.wasm (+ .d.ts files with
# --typescript). A release build uses the `wasm-release` cargo profile (the
# app's) and then `wasm-opt -Oz`. It needs only what .ci/setup installs and
# works offline: the wasm32 target, wasm-bindgen 0.2.130 (the version in
# Cargo.lock) and binaryen's wasm-opt from node_modules/.bin.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: build/wasm.sh BIN OUT_NAME OUT_DIR [release|debug] [--typescript]" >&2; exit 2; }
bin=$1 name=$2 out=$3 mode=${4:-release}
typescript=--no-typescript
[ "${5:-}" = --typescript ] && typescript=
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

target_dir=$(cargo metadata --no-deps --format-version 1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
if [ "$mode" = release ]; then
  cargo build --quiet --target wasm32-unknown-unknown --profile wasm-release --bin "$bin"
  wasm="$target_dir/wasm32-unknown-unknown/wasm-release/$bin.wasm"
else
  cargo build --quiet --target wasm32-unknown-unknown --bin "$bin"
  wasm="$target_dir/wasm32-unknown-unknown/debug/$bin.wasm"
fi
mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --out-name "$name" $typescript "$wasm"
if [ "$mode" = release ]; then
  wasm-opt -Oz --output "$out/${name}_bg.opt.wasm" "$out/${name}_bg.wasm"
  mv "$out/${name}_bg.opt.wasm" "$out/${name}_bg.wasm"
fi
