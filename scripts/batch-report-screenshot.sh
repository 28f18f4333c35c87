#!/usr/bin/env bash
# Looks at a batch report the way a person would: Debian's Chromium, headless, renders DIR/report.html to
# DIR/report.png (install it with `apt-get install chromium` if it is missing).
#
#   scripts/batch-report-screenshot.sh DIR [WIDTHxHEIGHT]
set -euo pipefail
dir=$(cd "${1:?usage: batch-report-screenshot.sh DIR}" && pwd)
size=${2:-1400,1000}
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "batch-report-screenshot: chromium not found (apt-get install chromium)" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# the flags a closed network needs: no background connections, no first-run, a throw-away profile
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
  --window-size="${size/x/,}" --screenshot="$dir/report.png" "file://$dir/report.html" >/dev/null 2>&1
[ -s "$dir/report.png" ] || { echo "batch-report-screenshot: no screenshot written" >&2; exit 1; }
echo "$dir/report.png"
