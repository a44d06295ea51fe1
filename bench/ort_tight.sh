#!/usr/bin/env bash
# Single-row latency of the native student vs onnxruntime's C API, both in a tight Rust loop
# in one process (bench/ort-tight). Fetches onnxruntime's shared library from the npm
# registry's onnxruntime-node package (the C API library it ships), builds the bench crate,
# and runs it on a run directory and a file of rows.
# Usage: bench/ort_tight.sh <run dir> <rows.csv[.gz]>
set -euo pipefail
run=${1:?usage: bench/ort_tight.sh <run dir> <rows.csv>}
rows=${2:?usage: bench/ort_tight.sh <run dir> <rows.csv>}
cd "$(dirname "$0")/.."
version=1.30.0
lib=bench/out/onnxruntime-node-$version/package/bin/napi-v6/linux/x64/libonnxruntime.so.1
if [ ! -f "$lib" ]; then
  mkdir -p "bench/out/onnxruntime-node-$version"
  (cd "bench/out/onnxruntime-node-$version" && npm pack "onnxruntime-node@$version" >/dev/null && tar xzf "onnxruntime-node-$version.tgz")
fi
cargo build --release --manifest-path bench/ort-tight/Cargo.toml
bench/ort-tight/target/release/ort-tight "$lib" "$run" "$rows"
