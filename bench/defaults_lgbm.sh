#!/usr/bin/env bash
# The defaults with a user's own teacher: for each classification set in the shared data,
# tools/make_teacher.py trains a LightGBM teacher (300 trees, exported to ONNX) on an 80%
# split, `distillery init --teacher` writes the smallest recipe for the same train file,
# the held-out 20% becomes [data] test, and `run` distils; prints teacher / student /
# scratch test accuracy, the McNemar verdict, student-vs-teacher speed and size ratios and
# the wall time, one line per set.
# Usage: bench/defaults_lgbm.sh <shared-data-dir> <python-with-tools/requirements.txt> [binary] [sets...]
#        STUDENT='max_bytes = 30000' bench/defaults_lgbm.sh …   replaces the student line
#        `init` writes (size = "auto"), to measure a budget of one's own.
set -euo pipefail
shared=${1:?usage: bench/defaults_lgbm.sh <shared-data-dir> <python> [binary] [sets...]}
python=${2:?python with tools/requirements.txt installed}
bin=${3:-target/release/distillery}
shift $(( $# >= 3 ? 3 : 2 ))
sets=("$@")
if [ ${#sets[@]} -eq 0 ]; then
  sets=(phishing credit_data mlc_churn magic letter adult census_kdd)
fi
declare -A target=([phishing]=is_phishing [credit_data]=Status [mlc_churn]=churn
  [magic]=class [letter]=lettr [adult]=income-per-year [census_kdd]=income_gt_50k)
# census_kdd: the source's own train/test partition; make_teacher drops the sampling weight.
declare -A extra=([census_kdd]="--ignore instance_weight --partition partition")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$(realpath "$bin")
shared=$(realpath "$shared")
tools=$(realpath "$(dirname "$0")/../tools")
printf '%-12s %8s %8s %8s %9s %-14s %7s %7s %7s\n' set teacher student scratch gain_pp verdict faster smaller seconds
for set in "${sets[@]}"; do
  file=$(ls "$shared/$set/$set".csv* | head -1)
  # shellcheck disable=SC2086
  (cd "$tools" && "$python" make_teacher.py --data "$file" --target "${target[$set]}" \
      --out "$work/$set" ${extra[$set]:-} >/dev/null 2>&1)
  (cd "$work/$set" && "$bin" -q init train.csv.gz --target "${target[$set]}" --teacher teacher.onnx \
      --output recipe.toml >/dev/null && sed -i 's/^train = "train.csv.gz"/train = "train.csv.gz"\ntest = "test.csv.gz"/' recipe.toml \
      && { [ -z "${STUDENT:-}" ] || sed -i "s/^size = \"auto\".*/${STUDENT}/" recipe.toml; } \
      && "$bin" -q run recipe.toml --out runs --no-register --json >"$set.json" 2>/dev/null || true)
  python3 - "$work/$set/$set.json" "$set" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
g = r.get("distillation_gain", {}).get("test", {})
t, s, c = r["teacher"], r["student"], r["scratch"]
gain = 100 * (s["accuracy"] - c["accuracy"])
print(f'{sys.argv[2]:<12} {t["accuracy"]:8.4f} {s["accuracy"]:8.4f} {c["accuracy"]:8.4f} {gain:+9.2f} '
      f'{g.get("verdict", "-"):<14} {t["latency_us"] / s["latency_us"]:6.0f}x {t["bytes"] / s["bytes"]:6.0f}x {r["seconds"]:7.1f}')
PY
done
