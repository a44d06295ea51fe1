#!/usr/bin/env bash
# Streaming detector speed per update, distillery vs river 0.26.1, on this machine in one run.
# Both get the same 1,000,000-value stream (KSWIN: the first 100,000) and count detections.
# Usage: bench/stream.sh     (river is installed into $HOME/.cache/distillery/venv-monitor)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/bench/out/stream
mkdir -p "$out"
venv="$HOME/.cache/distillery/venv-monitor"
if ! "$venv/bin/python" -c "import river" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/drift/requirements.txt
fi
{
  cargo bench -q -p distillery-monitor --bench stream 2>/dev/null
  "$venv/bin/python" bench/stream/river_adwin.py
} | tee "$out/results.jsonl"
"$venv/bin/python" - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ours = {r["detector"]: r for r in rows if r["tool"] == "distillery"}
print("\n| detector | distillery (ns/update) | river (ns/update) | detections (ours / river) | distillery is faster by |")
print("|---|---|---|---|---|")
for r in rows:
    if r["tool"] != "river":
        continue
    o = ours[r["detector"]]
    print(f"| {r['detector']} | {o['ns_per_update']:.0f} | {r['ns_per_update']:.0f} | {o['detections']} / {r['detections']} | {r['ns_per_update'] / o['ns_per_update']:.0f}× |")
PY
