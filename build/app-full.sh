#!/usr/bin/env bash
# Builds the web app's full module into the site next to the first-load one:
#   app-full.js, app-full_bg.wasm   the app with the model engine, the model
#                                   panels and the Embed panel (src/bin/app_full.rs)
# boot.js loads it on first use of those panels; worker.js?full in the worker.
#
# Trunk runs it after building the app (a post_build hook in Trunk.toml),
# with TRUNK_STAGING_DIR (the site being assembled) and TRUNK_PROFILE set.
# By hand:  bash build/app-full.sh OUT_DIR [release|debug]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${TRUNK_STAGING_DIR:?give an output directory, or run from trunk}}
mode=${2:-${TRUNK_PROFILE:-release}}
bash build/wasm.sh app-full app-full "$out" "$mode"
