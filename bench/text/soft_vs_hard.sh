#!/usr/bin/env bash
# Does distillation beat the same text student trained on hard labels only, over several
# splits? One split's McNemar test cannot see half a point on a few thousand test rows, so
# this repeats bench/text/run.sh's "soft labels as columns, with word vectors" recipe on
# SEEDS different stratified splits (each: the frozen MiniLM teacher's logistic head fitted
# on that split's training rows by tools/text_teacher.py --seed, word vectors from its
# encoder by tools/word_vectors.py, then `distillery run`, whose scratch baseline is the
# same student on the labels alone) and ends with the mean difference, the splits won, and
# the corrected resampled t-test of Nadeau & Bengio (2003), which widens the variance for
# the overlap between splits' training sets that a plain paired t-test ignores.
#
# Usage: SEEDS="1 2 3 4 5" bench/text/soft_vs_hard.sh <python> [distillery binary] [set]
#   set: rt (Rotten Tomatoes reviews, fetched by bench/text/rotten_tomatoes.py) or spam
#   (../shared/data/spam_assassin). The python needs tools/requirements-text.txt and
#   tools/requirements-text-models.txt (as for bench/text/run.sh).
#   KEEP=dir keeps each split's files in dir/<set>-<seed> and reuses the teacher and word
#   vectors built there. DIMS=64 keeps that many of the vectors' principal components
#   (default: tools/word_vectors.py's, 256); each count gets its own words-<dims>.vec.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${1:?usage: SEEDS="1 2 3" bench/text/soft_vs_hard.sh <python> [binary] [set]}
bin=$(realpath "${2:-target/release/distillery}")
set_name=${3:-rt}
read -r -a seeds <<< "${SEEDS:-1 2 3 4 5}"
dims=${DIMS:-256}
# shellcheck source=bench/text/recipe.sh
. bench/text/recipe.sh
if [ -n "${KEEP:-}" ]; then
  out=$(mkdir -p "$KEEP" && realpath "$KEEP")
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
case $set_name in
  rt) [ -f "$out/rt.csv" ] || "$py" bench/text/rotten_tomatoes.py "$out/rt.csv"
      data=$out/rt.csv text=text ;;
  spam) data=../shared/data/spam_assassin/spam_assassin.csv.gz text=subject,body ;;
  *) echo "unknown set $set_name (rt, spam)" >&2; exit 2 ;;
esac
reports=()
for seed in "${seeds[@]}"; do
  dir=$out/$set_name-$seed
  if [ ! -f "$dir/teacher.json" ]; then
    "$py" tools/text_teacher.py --data "$data" --text "$text" --target label --seed "$seed" \
      --out "$dir" 2>"$dir.teacher.log"
  fi
  vectors=words-$dims.vec
  if [ ! -f "$dir/$vectors" ]; then
    "$py" tools/word_vectors.py --teacher "$dir/teacher.onnx" --tokenizer "$dir/tokenizer.json" \
      --data "$dir/train.csv" --text text --dims "$dims" --out "$dir/$vectors" 2>"$dir.vectors.log"
  fi
  { soft_label_recipe "$set_name-$seed"
    printf '[student.text]\nvectors = "%s"\n[distill]\nseed = %s\n' "$vectors" "$seed"
  } > "$dir/vectors.toml"
  (cd "$dir" && "$bin" -q run vectors.toml --out runs --no-register --json >report.json)
  reports+=("$dir/report.json")
done
"$py" - "${reports[@]}" <<'PY'
import json, math, sys
from scipy import stats

rows = []
print(f"{'split':>5} {'teacher':>8} {'student':>8} {'scratch':>8} {'diff_pp':>8}  McNemar")
for path in sys.argv[1:]:
    r = json.load(open(path))
    t, s, c = (r[k]["accuracy"] for k in ("teacher", "student", "scratch"))
    g = r.get("distillation_gain", {}).get("test", {})
    rows.append((t, s, c, r["dataset"]))
    print(f"{r['seed']:>5} {t:8.4f} {s:8.4f} {c:8.4f} {100 * (s - c):+8.2f}  "
          f"p = {g.get('p_value', float('nan')):.3f} ({g.get('verdict', '-')})")
k = len(rows)
d = [s - c for _, s, c, _ in rows]
mean = sum(d) / k
print(f"mean: teacher {sum(r[0] for r in rows) / k:.4f}, student {sum(r[1] for r in rows) / k:.4f}, "
      f"scratch {sum(r[2] for r in rows) / k:.4f}; student ahead on {sum(x > 0 for x in d)} of {k} "
      f"splits ({sum(x == 0 for x in d)} tied), mean difference {100 * mean:+.2f} pp")
if k > 1:
    var = sum((x - mean) ** 2 for x in d) / (k - 1)
    ds = rows[0][3]
    ratio = ds["test_rows"] / max(ds["train_rows"] + ds["validation_rows"], 1)
    se = math.sqrt((1 / k + ratio) * var)
    if se > 0:
        t_stat = mean / se
        p = 2 * stats.t.sf(abs(t_stat), k - 1)
    else:  # every split gave the same difference
        t_stat, p = (0.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
    print(f"corrected resampled t-test (Nadeau & Bengio; test/train = {ratio:.3f}): t = {t_stat:.2f}, "
          f"two-sided p = {p:.3f}")
PY
