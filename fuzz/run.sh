#!/usr/bin/env bash
# Runs every fuzz target for a fixed number of executions (default 20,000: CI's smoke run;
# `fuzz/run.sh 1000000` is the long run the README reports). Seeds come from the repo's
# own test files; a panic stops the run with its input saved under fuzz/artifacts/.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Its coverage flags are stable rustc
# options, but libfuzzer-sys is built with `-Z` flags that stable refuses, so the build
# runs with RUSTC_BOOTSTRAP=1 on the stable toolchain; `--sanitizer none` because the
# sanitizers themselves need nightly (the code under test has no `unsafe` to check).
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-20000}
export RUSTC_BOOTSTRAP=1
seed() { mkdir -p "corpus/$1"; shift; for f in "$@"; do cp "$f" "corpus/${target}/"; done; }
target=csv_table
mkdir -p corpus/csv_table
for f in ../tests/data/adult_sample.csv ../tests/data/credit_sample.csv ../tests/data/datasets/phishing.csv; do
  { printf '\0'; head -c 4000 "$f"; } > "corpus/csv_table/$(basename "$f")"
done
target=student_artifact
seed student_artifact ../tests/data/export/student.safetensors ../tests/data/export/student.int8.safetensors
target=recipe
seed recipe ../tests/data/export/recipe.toml ../crates/cli/demo/recipe.toml ../bench/recipes/*.toml
python3 make_oip_seeds.py ../tests/data/export/student.safetensors corpus/oip_request
cargo fuzz build --sanitizer none -O
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in csv_table student_artifact oip_request recipe; do
  start=$(date +%s)
  cargo fuzz run --sanitizer none -O "$target" "corpus/$target" -- -runs="$runs" -max_len=16384 \
    > "$log" 2>&1 || { tail -60 "$log"; echo "fuzz target $target failed" >&2; exit 1; }
  echo "$target: $runs executions, no panic ($(( $(date +%s) - start )) s)"
done
