#!/usr/bin/env bash
# Every peer comparison of the README in one run (bench/peers.py), after building what it
# needs: the release binary, the bench binaries, onnxruntime's C library (from the npm
# registry's onnxruntime-node package) and bench/ort-tight.
#
# Set-up, once per machine (the peers' virtual environment, and wrk for the serving run):
#   python3 -m venv .venv-peers && .venv-peers/bin/pip install -r bench/requirements-peers.txt
#   apt-get install wrk
# Usage: bench/peers.sh [shared datasets dir] [--rounds N] [--only job,...] [--write]
#   (default ../shared/data; without it the jobs on real datasets are left out)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared/data
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  shared=$1
  shift
fi
python=${PEERS_PYTHON:-.venv-peers/bin/python}
if ! "$python" -c "import evidently, river, nannyml, cleanlab, torch, onnxruntime" 2>/dev/null; then
  echo "the peers' virtual environment is missing; create it with:" >&2
  echo "  python3 -m venv .venv-peers && .venv-peers/bin/pip install -r bench/requirements-peers.txt" >&2
  exit 2
fi
version=1.30.0
lib=bench/out/onnxruntime-node-$version/package/bin/napi-v6/linux/x64/libonnxruntime.so.1
if [ ! -f "$lib" ]; then
  mkdir -p "bench/out/onnxruntime-node-$version"
  (cd "bench/out/onnxruntime-node-$version" && npm pack "onnxruntime-node@$version" >/dev/null && tar xzf "onnxruntime-node-$version.tgz")
fi
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -q -p distillery
cargo build --release -q -p distillery-train --example kd_speed
cargo build --release -q -p distillery-quality --example label_issues
cargo bench -q -p distillery-monitor --no-run 2>/dev/null
CARGO_TARGET_DIR=$target cargo build --release -q --manifest-path bench/ort-tight/Cargo.toml
args=(--bin "$target/release/distillery" --ort-tight "$target/release/ort-tight" --ort-lib "$lib")
[ -d "$shared" ] && args+=(--shared "$shared")
exec "$python" bench/peers.py "${args[@]}" "$@"
