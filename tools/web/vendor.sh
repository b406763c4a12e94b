#!/usr/bin/env bash
# Copies the dashboard's chart library, uPlot at the version pinned by package-lock.json, from
# the npm registry into services/gateway/web/vendor/ with the version in the file names (they
# are served `immutable`: web.h). The copies are committed (about 50 KB minified, MIT): the
# gateway, the Dockerfile and deploy/local/up.sh then need no node at all, and
# tests/e2e/test_dashboard.py checks that they are byte for byte the pinned package's files.
#
#   tools/web/vendor.sh      after changing the version in package.json (npm install
#                            --package-lock-only first), then update index.html's <script>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
web=$here/../../services/gateway/web/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
v=$(node -p "require('$work/node_modules/uplot/package.json').version")
rm -f "$web"/uPlot-*
cp "$work/node_modules/uplot/dist/uPlot.iife.min.js" "$web/uPlot-$v.iife.min.js"
cp "$work/node_modules/uplot/dist/uPlot.min.css" "$web/uPlot-$v.min.css"
cp "$work/node_modules/uplot/LICENSE" "$web/uPlot-$v.LICENSE.txt"
echo "vendored uPlot $v into $web"
