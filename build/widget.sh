#!/usr/bin/env bash
# Builds the embeddable widget into the site next to the app:
#   widget.js, widget.css        the <profile-report> custom element
#   embed.html, embed.js, .css   the iframe page (report in the URL fragment)
#   profile-widget.js, profile-widget_bg.wasm   their own small Wasm module
#
# Trunk runs it after building the app (the post_build hook in Trunk.toml),
# with TRUNK_STAGING_DIR (the site being assembled) and TRUNK_PROFILE set.
# By hand:  bash build/widget.sh OUT_DIR [release|debug]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${TRUNK_STAGING_DIR:?give an output directory, or run from trunk}}
mode=${2:-${TRUNK_PROFILE:-release}}
bash build/wasm.sh widget profile-widget "$out" "$mode"
cp www/widget/widget.js www/widget/widget.css www/widget/embed.html www/widget/embed.js www/widget/embed.css "$out/"
