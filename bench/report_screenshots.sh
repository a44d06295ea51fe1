#!/usr/bin/env bash
# Renders the README's report screenshots: runs bench/recipes/adult_report.toml (the demo's
# Adult data and LightGBM teacher with slices, CV, a sweep and every gate), then takes two
# headless-Chromium screenshots of its report.html: the first screen and the slice section
# (report.html#slices shows that section alone). Writes docs/report-first-screen.png and
# docs/report-slices.png, and docs/drift-page.png (the README's drift example). Needs
# Debian's chromium.
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
# The drift page of the README's car-loan example, with the multivariate tests.
sample=tests/data/drift/car_loan_sample.csv
awk -F, 'NR==1 || $NF=="reference"' "$sample" > "$out/ref.csv"
awk -F, 'NR==1 || ($NF=="analysis" && $1>=75000)' "$sample" > "$out/late.csv"
./target/release/distillery drift --reference "$out/ref.csv" --current "$out/late.csv" \
  --ignore id,repaid,timestamp,y_pred_proba,y_pred,period --multivariate --html "$out/drift.html" > /dev/null
page="$PWD/$out/drift.html"
shot 1200,1300 docs/drift-page.png ""
rm -rf "$profile"
echo "screenshots of $page written to docs/"
