#!/usr/bin/env bash
# Serving throughput and latency, distillery vs MLServer, on this machine in one run.
#
# Both serve the demo's Adult student over the Open Inference Protocol REST API and get
# the same one-row request (one tensor per feature) from wrk on loopback, at 2 and 32
# connections. MLServer runs the exported student.onnx in onnxruntime through a small
# custom runtime (bench/serve/mlserver_student.py), once with its default settings
# (parallel_workers = 1) and once in-process (parallel_workers = 0); the table keeps both.
# distillery runs plain, with its prediction log, with micro-batching (32 rows, 200 µs),
# and with live monitoring of every request and of one request in ten.
#
# Usage: bench/serve.sh [seconds-per-run]      (default 10)
# Needs: wrk (Debian: apt-get install wrk), python3 with venv; MLServer is installed into
# $HOME/.cache/distillery/venv-serve-bench from bench/serve/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
out=$PWD/bench/out/serve
command -v wrk >/dev/null || { echo "wrk is missing (Debian: apt-get install wrk)" >&2; exit 2; }
venv=${PEERS_VENV:-$HOME/.cache/distillery/venv-serve-bench}
if ! "$venv/bin/mlserver" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/serve/requirements.txt
fi
cargo build --release -p distillery
bin=$PWD/target/release/distillery
rm -rf "$out"
mkdir -p "$out/mlserver"
(cd "$out" && "$bin" demo -q --dir demo >/dev/null)
registry="$out/demo/.distillery"
"$bin" registry promote adult-demo/1 --to production --registry "$registry" >/dev/null
run=$(ls -d "$out"/demo/runs/*/ | head -1)
"$bin" export -q --model "$run/student.safetensors" --output "$out/mlserver/student.onnx"
cp bench/serve/mlserver_student.py "$out/mlserver/"
cat > "$out/mlserver/model-settings.json" <<JSON
{"name": "adult-demo", "implementation": "mlserver_student.OnnxStudent",
 "parameters": {"uri": "$out/mlserver/student.onnx"}}
JSON

# The request: the first complete test row, numbers as FP32 and categories as BYTES.
python3 scripts/oip_body.py "$out/demo/test.csv.gz" "$out/body.json"
export BODY_FILE="$out/body.json"

pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 -- "-$p" 2>/dev/null || kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_ready() {
  for _ in $(seq 1 300); do
    curl -sf "$1/v2/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$1 did not become ready" >&2; exit 1
}
stop() { # pid: SIGTERM, then SIGKILL after 10 s (MLServer can hang on "waiting for
  # background tasks"); its worker processes share its process group
  kill -- "-$1" 2>/dev/null || kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 -- "-$1" 2>/dev/null || kill -9 "$1" 2>/dev/null || true
}
measure() { # name url
  local infer="$2/v2/models/adult-demo/infer"
  curl -sf -H 'content-type: application/json' --data @"$BODY_FILE" "$infer" > "$out/$1-answer.json"
  for c in 2 32; do
    wrk -t2 -c"$c" -d"${secs}s" --latency -s bench/serve/wrk.lua "$infer" > "$out/$1-c$c.txt"
  done
}

"$bin" serve --port 18080 --no-log --registry "$registry" >/dev/null 2>&1 &
pids+=($!)
wait_ready http://127.0.0.1:18080
measure distillery http://127.0.0.1:18080
stop "${pids[-1]}"

"$bin" serve --port 18080 --log-dir "$out/predictions" --registry "$registry" >/dev/null 2>&1 &
pids+=($!)
wait_ready http://127.0.0.1:18080
measure distillery+log http://127.0.0.1:18080
stop "${pids[-1]}"

"$bin" serve --port 18080 --no-log --batch-max-rows 32 --batch-max-wait-us 200 --registry "$registry" >/dev/null 2>&1 &
pids+=($!)
wait_ready http://127.0.0.1:18080
measure distillery+batch http://127.0.0.1:18080
stop "${pids[-1]}"

# Live monitoring: every request, and one in ten (the demo's teacher sees 10% of those rows).
for sample in 1.0 0.1; do
  printf '[monitor]\nsample = %s\nwindow = 1000\nteacher = "%s"\nteacher_fraction = 0.1\nmin_fidelity = 0.5\n' \
    "$sample" "$out/demo/teacher.onnx" > "$out/monitor-$sample.toml"
  "$bin" serve --port 18080 --log-dir "$out/predictions-monitor" --config "$out/monitor-$sample.toml" \
    --registry "$registry" >/dev/null 2>&1 &
  pids+=($!)
  wait_ready http://127.0.0.1:18080
  measure "distillery+monitor$sample" http://127.0.0.1:18080
  stop "${pids[-1]}"
done

for workers in 1 0; do
  cat > "$out/mlserver/settings.json" <<JSON
{"http_port": 18081, "grpc_port": 18082, "metrics_port": 18083, "parallel_workers": $workers}
JSON
  (cd "$out/mlserver" && exec setsid "$venv/bin/mlserver" start . >"$out/mlserver-$workers.log" 2>&1) &
  pids+=($!)
  wait_ready http://127.0.0.1:18081
  measure "mlserver-workers$workers" http://127.0.0.1:18081
  stop "${pids[-1]}"
  sleep 1
done

# Same answer from both (probabilities to 1e-5).
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
a = json.load(open(f"{out}/distillery-answer.json"))["outputs"][0]["data"]
b = json.load(open(f"{out}/mlserver-workers1-answer.json"))["outputs"][0]["data"]
assert max(abs(x - y) for x, y in zip(a, b)) < 1e-5, (a, b)
print(f"both answer probabilities {[round(x, 6) for x in a]}")
PY
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); ${secs}s per run"
python3 bench/serve/summarise.py "$out" | tee "$out/summary.md"
