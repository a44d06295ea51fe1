#!/usr/bin/env bash
# The defaults, measured: for each classification set in the shared data, `distillery init`
# writes the smallest recipe (in-house GBDT teacher, hidden = [64] student) and `run` trains
# it; prints teacher / student / scratch test accuracy, the McNemar verdict of distillation
# vs scratch, the synthetic transfer rows used and the wall time, one line per set.
# Usage: bench/defaults.sh <shared-data-dir> [distillery-binary] [sets...]
set -euo pipefail
shared=${1:?usage: bench/defaults.sh <shared-data-dir> [binary] [sets...]}
bin=${2:-target/release/distillery}
shift $(( $# >= 2 ? 2 : 1 ))
sets=("$@")
if [ ${#sets[@]} -eq 0 ]; then
  sets=(phishing credit_data mlc_churn magic letter adult)
fi
declare -A target=([phishing]=is_phishing [credit_data]=Status [mlc_churn]=churn
  [magic]=class [letter]=lettr [adult]=income-per-year)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$(realpath "$bin")
printf '%-12s %8s %8s %8s %9s %-14s %9s %7s\n' set teacher student scratch gain_pp verdict synthetic seconds
for set in "${sets[@]}"; do
  cp "$shared/$set/$set.csv" "$work/$set.csv"
  (cd "$work" && "$bin" -q init "$set.csv" --target "${target[$set]}" --output "$set.toml" >/dev/null)
  (cd "$work" && "$bin" -q run "$set.toml" --out runs --no-register --json >"$set.json" 2>/dev/null || true)
  python3 - "$work/$set.json" "$set" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
g = r.get("distillation_gain", {}).get("test", {})
gain = 100 * (r["student"]["accuracy"] - r["scratch"]["accuracy"])
print(f'{sys.argv[2]:<12} {r["teacher"]["accuracy"]:8.4f} {r["student"]["accuracy"]:8.4f} '
      f'{r["scratch"]["accuracy"]:8.4f} {gain:+9.2f} {g.get("verdict", "-"):<14} '
      f'{r["dataset"]["augmented_rows"]:9d} {r["seconds"]:7.1f}')
PY
done
