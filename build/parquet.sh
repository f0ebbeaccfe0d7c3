#!/usr/bin/env bash
# Builds the app's Parquet reader into the site: profile-parquet.js and
# profile-parquet_bg.wasm, a Wasm module of its own that the worker loads
# only when a Parquet file is dropped (www/worker.js, src/bin/parquet.rs).
#
# Trunk runs it after building the app (a post_build hook in Trunk.toml),
# with TRUNK_STAGING_DIR and TRUNK_PROFILE set.
# By hand:  bash build/parquet.sh OUT_DIR [release|debug]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${TRUNK_STAGING_DIR:?give an output directory, or run from trunk}}
mode=${2:-${TRUNK_PROFILE:-release}}
bash build/wasm.sh parquet profile-parquet "$out" "$mode"
