#!/usr/bin/env bash
# Renders the README's report screenshots: runs bench/recipes/adult_report.toml (the demo's
# Adult data and LightGBM teacher with slices, CV, a sweep and every gate), then takes two
# headless-Chromium screenshots of its report.html: the first screen and the slice section
# (report.html#slices shows that section alone). Writes docs/report-first-screen.png and
# docs/report-slices.png. Needs Debian's chromium.
# Usage: bench/report_screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p distillery
out=bench/out/report-runs
rm -rf "$out"
# Exit 1 means a gate failed: the report is still written and shows it.
./target/release/distillery run bench/recipes/adult_report.toml --out "$out" --quiet || [ $? -eq 1 ]
page="$(cd "$out" && ls -d adult-report-*/ | head -1)"
page="$PWD/$out/${page%/}/report.html"
profile="$(mktemp -d)"
shot() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --window-size="$1" \
    --screenshot="$2" "file://$page$3" 2>/dev/null
}
shot 1280,1000 docs/report-first-screen.png ""
shot 1280,1400 docs/report-slices.png "#slices"
rm -rf "$profile"
echo "screenshots of $page written to docs/"
