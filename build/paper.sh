#!/usr/bin/env bash
# Puts the paper's published factor scores beside the app, when this machine
# has them, so the app can offer "the paper's study": copies
# ../shared/data/paper/factor_scores.json (or $PROFILE_PAPER_SCORES) to
# OUT/example/paper.json and names it in a <meta name="profile-study"> tag of
# OUT/index.html, which the app reads. The scores are not part of the
# repository (see ../shared/data/paper/SOURCE.md); without them the site is
# built without the study and the app does not offer it.
#
# Trunk runs it after building the app (a post_build hook in Trunk.toml),
# with TRUNK_STAGING_DIR set. By hand:  bash build/paper.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${TRUNK_STAGING_DIR:?give an output directory, or run from trunk}}
src=${PROFILE_PAPER_SCORES:-../shared/data/paper/factor_scores.json}
if [ ! -f "$src" ]; then
  echo "build/paper.sh: no $src; the site is built without the paper's study"
  exit 0
fi
mkdir -p "$out/example"
cp "$src" "$out/example/paper.json"
# One tag, after the description; a rebuild into the same directory keeps one.
if ! grep -q 'name="profile-study"' "$out/index.html"; then
  sed -i 's#<meta name="description"#<meta name="profile-study" content="example/paper.json">\n  &#' "$out/index.html"
fi
echo "build/paper.sh: the paper's study from $src"
