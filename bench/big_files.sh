#!/usr/bin/env bash
# Issue #15's memory and speed targets on big files, measured (not timed in tests):
#  1. `distillery check` on census_kdd (145 MB of CSV): peak memory, target ≤ 300 MB;
#  2. `distillery predict` on a ~2 GB CSV built from Adult's test rows: peak memory
#     (target ≤ 200 MB) and time against pandas + onnxruntime reading in chunks (target
#     ≥ 3×), with bench/predict_big.py.
# Usage: bench/big_files.sh <path-to-shared-data> [GB]
# Needs: /usr/bin/time; python3 with pandas, numpy and onnxruntime (tools/requirements.txt).
set -euo pipefail
shared=${1:?usage: bench/big_files.sh <shared-data-dir> [GB]}
gb=${2:-2}
cd "$(dirname "$0")/.."
cargo build --release -p distillery
bin=$PWD/target/release/distillery
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && "$bin" init "$shared/census_kdd/census_kdd.csv.gz" --target income_gt_50k -o census.toml -q >/dev/null)
peak=$(/usr/bin/time -f "%M %e" "$bin" check "$work/census.toml" -q 2>&1 >/dev/null | tail -1)
echo "check census_kdd: peak $((${peak% *} / 1024)) MB, ${peak#* } s"
# A student to score with: the demo's (Adult, LightGBM teacher), run in the work folder.
(cd "$work" && "$bin" demo -q >/dev/null 2>&1)
run=$(ls -d "$work"/distillery-demo/runs/adult-demo-* | head -1)
gzip -dc crates/cli/demo/test.csv.gz > "$work/adult_test.csv"
python3 bench/predict_big.py --run "$run" --data "$work/adult_test.csv" --gb "$gb" --binary "$bin"
