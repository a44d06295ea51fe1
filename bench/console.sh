#!/usr/bin/env bash
# How fast the operator console's pages load with 1,000 runs and 100 registered versions
# (issue #18's target: under 200 ms). One demo run is copied into 1,000 run folders (each
# report.json given its own id and date) and registered 100 times (a fifth of them waiting
# for approval); `distillery ui` and `distillery serve --runs` serve them; then each page is
# fetched 20 times after a first, cold fetch. Prints the cold time and the median and
# worst warm times per page.
#
# Usage: bench/console.sh [distillery binary]   (default target/release/distillery)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/distillery}")
out=$(mktemp -d)
ui=""
served=""
trap '[ -n "$ui" ] && kill "$ui" 2>/dev/null; [ -n "$served" ] && kill "$served" 2>/dev/null; rm -rf "$out"' EXIT
(cd "$out" && "$bin" demo -q --dir demo >/dev/null)
cd "$out/demo"
first=$(find runs -mindepth 1 -maxdepth 1 -not -name '.*' | sed -n 1p)
for i in $(seq 2 100); do "$bin" registry add "$first" -q >/dev/null; done
"$bin" registry promote adult-demo/100 --to production -q >/dev/null
# A fifth of the versions wait for approval (the approvals page reads every version's tags).
for i in $(seq 5 5 95); do "$bin" registry tag "adult-demo/$i" "redistill=awaiting approval" -q >/dev/null; done
python3 - "$first" <<'PY'
import json, os, shutil, sys
src = sys.argv[1].rstrip("/")
report = json.load(open(os.path.join(src, "report.json")))
for i in range(1, 1000):
    run_id = f"adult-demo-bench-{i:04d}"
    dst = os.path.join("runs", run_id)
    os.makedirs(dst, exist_ok=True)
    for f in ("recipe.toml", "report.html"):
        shutil.copy(os.path.join(src, f), dst)
    report["run_id"] = run_id
    report["created"] = f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"
    report["student"]["accuracy"] = 0.8 + (i % 97) / 1000
    json.dump(report, open(os.path.join(dst, "report.json"), "w"))
PY
"$bin" ui --port 18910 >/dev/null 2>&1 &
ui=$!
# Ready when the models page answers (it does not read the runs: /ui/runs stays cold).
for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:18910/ui/models && break; sleep 0.05; done
a=$(find runs -mindepth 1 -maxdepth 1 -not -name '.*' -printf '%f\n' | sort | sed -n 1p)
b=$(find runs -mindepth 1 -maxdepth 1 -not -name '.*' -printf '%f\n' | sort | sed -n '$p')
echo "$(find runs -mindepth 1 -maxdepth 1 -not -name '.*' | wc -l) runs, $("$bin" registry ls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') versions"
# The pages of a running server's console (deployments, health, approvals) come from
# `distillery serve --runs runs` on its own port, after 200 requests so it has live figures.
DISTILLERY_ADMIN_TOKEN=bench "$bin" serve --port 18911 --runs runs --no-log >/dev/null 2>&1 &
served=$!
for _ in $(seq 200); do curl -sf -o /dev/null http://127.0.0.1:18911/v2/health/ready && break; sleep 0.05; done
python3 - <<'PY'
import json, urllib.request
body = json.dumps({"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": [39]}]}).encode()
for _ in range(200):
    try:
        urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:18911/v2/models/adult-demo/infer", data=body, headers={"Content-Type": "application/json"}))
    except Exception:
        pass  # a refused request still counts in the live figures
PY
for page in "18910/ui/runs" "18910/ui/runs?sort=accuracy&dir=desc&q=bench" "18910/ui/runs/$a" "18910/ui/compare?a=$a&b=$b" "18910/ui/models" "18910/ui/models/adult-demo" "18911/ui/deployments" "18911/ui/health" "18911/ui/approvals"; do
  python3 - "http://127.0.0.1:$page" <<'PY'
import statistics, sys, time, urllib.request
url = sys.argv[1]
times = []
for _ in range(21):
    t = time.perf_counter()
    body = urllib.request.urlopen(url).read()
    times.append(1000 * (time.perf_counter() - t))
cold, warm = times[0], sorted(times[1:])
print(f"{url.split(':', 2)[2]:<50} {len(body) / 1024:7.0f} kB  cold {cold:6.1f} ms  warm median {statistics.median(warm):6.1f} ms  worst {warm[-1]:6.1f} ms")
PY
done
