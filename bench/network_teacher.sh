#!/usr/bin/env bash
# A network teacher at scale: MLServer 1.7 (mlserver-sklearn) serves a scikit-learn
# Pipeline trained on the demo's adult training rows, and `distillery run` labels 1,000,000
# rows through it (the training file repeated), then trains a small student on them.
# Prints the teacher's rows per second as the run reports them, and the wall time.
# Needs a Python with mlserver, mlserver-sklearn, scikit-learn and pandas:
#   python3 -m venv .venv-peers && .venv-peers/bin/pip install -r bench/requirements-peers.txt
# Usage: bench/network_teacher.sh [rows] [distillery binary]     (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
bin=$(realpath "${2:-target/release/distillery}")
python=${PEERS_PYTHON:-$PWD/.venv-peers/bin/python}
out=$PWD/bench/out/network-teacher
rm -rf "$out" && mkdir -p "$out"
"$bin" demo -q --dir "$out/demo" >/dev/null
cd "$out"
"$python" - "$rows" <<'PY'
import gzip, sys
lines = gzip.open("demo/train.csv.gz", "rt").read().splitlines()
header, body = lines[0], lines[1:]
n = int(sys.argv[1])
with open("big.csv", "w") as fh:
    fh.write(header + "\n")
    for i in range(n):
        fh.write(body[i % len(body)] + "\n")
with open("teacher-train.csv", "w") as fh:
    fh.write("\n".join([header] + body) + "\n")
PY
"$python" "$OLDPWD/tests/clients/mlserver_teacher.py" teacher-train.csv income-per-year repo 18181 18182 >/dev/null
mlserver=$(dirname "$python")/mlserver
"$mlserver" start repo > mlserver.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf localhost:18181/v2/models/teacher/ready >/dev/null && break
  sleep 0.5
done
cat > big.toml <<EOF2
[data]
train = "big.csv"
test = "demo/test.csv.gz"
target = "income-per-year"

[teacher]
url = "http://127.0.0.1:18181/v2/models/teacher"
batch_rows = 4096
concurrency = 2

[student]
hidden = [16]

[distill]
augment = "none"
epochs = 1
EOF2
start=$(date +%s.%N)
"$bin" run big.toml --json --no-register > big.json 2> big.log
end=$(date +%s.%N)
python3 - "$start" "$end" <<'PY'
import json, sys
r = json.load(open("big.json"))
print(f"rows: {r['dataset']['train_rows'] + r['dataset']['validation_rows']:,} labelled; teacher: {r['teacher']['kind']}")
print(f"wall time of the whole run: {float(sys.argv[2]) - float(sys.argv[1]):.0f} s; student accuracy {r['student']['accuracy']:.4f}, teacher {r['teacher']['accuracy']:.4f}")
PY
