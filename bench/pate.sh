#!/usr/bin/env bash
# PATE on adult (`[privacy] mode = "pate"`): the demo's training rows are the private
# data; the demo's test file is split in two, the first half the public rows the teachers
# label (their labels are only used to report how often the noisy labels are right) and
# the second half the test rows. Prints one markdown row per ε (8, 3, 1) with the default
# 100 teachers and 2,000 queries, then the same student distilled from an in-house GBDT
# teacher on all the private rows, without privacy.
# Usage: bench/pate.sh [distillery binary]      (default target/release/distillery)
#   TEACHERS=… QUERIES=… bench/pate.sh             to try other settings
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/distillery}")
out=$PWD/bench/out/pate
rm -rf "$out" && mkdir -p "$out"
"$bin" demo -q --dir "$out/demo" >/dev/null
cd "$out/demo"
python3 - <<'PY'
import gzip
lines = gzip.open("test.csv.gz", "rt").read().splitlines()
header, rows = lines[0], lines[1:]
half = len(rows) // 2
open("public.csv", "w").write("\n".join([header] + rows[:half]) + "\n")
open("test-half.csv", "w").write("\n".join([header] + rows[half:]) + "\n")
PY
echo "| ε target | student accuracy | noisy labels right | plurality agrees | σ | one teacher | ensemble | ε spent | seconds |"
echo "|---|---|---|---|---|---|---|---|---|"
for eps in 8 3 1 none; do
  {
    printf 'name = "pate"\n[data]\ntrain = "train.csv.gz"\ntest = "test-half.csv"\ntarget = "income-per-year"\n\n'
    printf '[student]\nhidden = [64]\n\n[distill]\naugment = "none"\n'
    if [ "$eps" = none ]; then
      printf '\n[teacher]\ntrain = { kind = "gbdt" }\n'
    else
      printf '\n[privacy]\nmode = "pate"\nepsilon = %s\npublic = "public.csv"\n' "$eps"
      [ -n "${TEACHERS:-}" ] && printf 'teachers = %s\n' "$TEACHERS"
      [ -n "${QUERIES:-}" ] && printf 'queries = %s\n' "$QUERIES"
    fi
  } > "pate-$eps.toml"
  start=$(date +%s.%N)
  "$bin" run -q "pate-$eps.toml" --json > "pate-$eps.json" 2> "pate-$eps.log"
  end=$(date +%s.%N)
  python3 - "pate-$eps.json" "$eps" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
secs = float(sys.argv[4]) - float(sys.argv[3])
p = r.get("privacy")
if p is None:
    print(f"| ∞ (in-house GBDT teacher on all private rows, no privacy) | {r['student']['accuracy']:.4f} (scratch {r['scratch']['accuracy']:.4f}) | – | – | – | – | {r['teacher']['accuracy']:.4f} | – | {secs:.0f} |")
else:
    q = p["pate"]
    right = "–" if q["public_label_accuracy"] is None else f"{q['public_label_accuracy']:.3f}"
    print(f"| {sys.argv[2]} | {r['student']['accuracy']:.4f} (scratch {r['scratch']['accuracy']:.4f}) | {right} | {q['agreement']:.3f} | {q['sigma']:.1f} | "
          f"{q['teacher_accuracy']:.4f} | {q['ensemble_accuracy']:.4f} | {p['epsilon']:.3f} | {secs:.0f} |")
PY
done
