#!/usr/bin/env bash
# Issue #2 acceptance runs: builds LightGBM teachers (300 boosting rounds) for census_kdd and
# letter from the shared datasets, then distils them with bench/recipes/*.toml.
# Usage: bench/acceptance.sh <path-to-shared-data>   (e.g. ../shared/data)
# Needs: python3 with lightgbm, onnxmltools, onnxruntime, scikit-learn, pandas (see tools/requirements.txt).
set -euo pipefail
shared=${1:?usage: bench/acceptance.sh <shared-data-dir>}
cd "$(dirname "$0")/.."
cargo build --release -p distillery
python3 tools/make_teacher.py --data "$shared/letter/letter.csv" --target lettr --out bench/out/letter --trees 300
python3 tools/make_teacher.py --data "$shared/census_kdd/census_kdd.csv.gz" --target income_gt_50k \
  --out bench/out/census_kdd --trees 300 --partition partition --ignore instance_weight
for recipe in census_kdd letter; do
  ./target/release/distillery run "bench/recipes/$recipe.toml" --out bench/out/runs
done
