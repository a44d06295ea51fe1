#!/usr/bin/env bash
# Renders docs/monitor-page.png, the live monitor page of the README: the demo's student
# served with [monitor] (windows of 300 rows, the demo's teacher on half of them,
# min_fidelity 0.9), sent 3,000 test rows whose capital gains jump by 5,000 from row
# 1,800, then GET /monitor/page shot by headless Chromium. Needs Debian's chromium.
# Usage: bench/monitor_screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p distillery
bin=$PWD/target/release/distillery
out=$PWD/bench/out/monitor-page
rm -rf "$out" && mkdir -p "$out"
cd "$out"
"$bin" demo -q --dir demo > /dev/null
cd demo
"$bin" registry promote adult-demo/1 --to production --why "screenshot" > /dev/null
printf '[monitor]\nwindow = 300\nteacher = "teacher.onnx"\nteacher_fraction = 0.5\nmin_fidelity = 0.9\nconsecutive = 2\n' > serve.toml
"$bin" serve --port 18761 --config serve.toml > /dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18761/v2/health/ready > /dev/null && break; sleep 0.1; done
python3 - <<'PY'
import csv, gzip, io, json, urllib.request
rows = list(csv.reader(io.TextIOWrapper(gzip.open("test.csv.gz"), encoding="utf-8")))
header, rows = rows[0], rows[1:]
features = [h for h in header if h != "income-per-year"]
index = [header.index(h) for h in features]
for lo in range(0, 3000, 100):
    batch, inputs = rows[lo:lo + 100], []
    for j, name in zip(index, features):
        values = [r[j] for r in batch]
        numeric = all(v.lstrip("-").replace(".", "", 1).isdigit() for v in values if v not in ("?", ""))
        cells = []
        for v in values:
            if v in ("?", ""):
                cells.append(None)
            elif numeric:
                cells.append(float(v) + (5000 if name == "capital-gain" and lo >= 1800 else 0))
            else:
                cells.append(v)
        inputs.append({"name": name, "shape": [len(batch)], "datatype": "FP64" if numeric else "BYTES", "data": cells})
    request = urllib.request.Request("http://127.0.0.1:18761/v2/models/adult-demo/infer",
                                     data=json.dumps({"inputs": inputs}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
PY
sleep 1
curl -sf http://127.0.0.1:18761/monitor/page > "$out/monitor.html"
cd - > /dev/null
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,900 \
  --screenshot=docs/monitor-page.png "file://$out/monitor.html" 2>/dev/null
echo "docs/monitor-page.png written"
