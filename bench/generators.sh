#!/usr/bin/env bash
# The transfer-set generators compared at the same factor: for each set, `distillery init`'s
# recipe with augment = "munge", "gibbs" and "mixed" at the factor "auto" picks (enough
# synthetic rows for ~50,000 transfer rows, at most 9 per training row); prints the synthetic
# rows, teacher / student / scratch test accuracy, the McNemar verdict, student fidelity and
# the wall time, one line per set and generator.
# Usage: bench/generators.sh <shared-data-dir> [distillery-binary] [sets...]
set -euo pipefail
shared=${1:?usage: bench/generators.sh <shared-data-dir> [binary] [sets...]}
bin=${2:-target/release/distillery}
shift $(( $# >= 2 ? 2 : 1 ))
sets=("$@")
if [ ${#sets[@]} -eq 0 ]; then
  sets=(phishing credit_data mlc_churn magic adult)
fi
declare -A target=([phishing]=is_phishing [credit_data]=Status [mlc_churn]=churn
  [magic]=class [letter]=lettr [adult]=income-per-year)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$(realpath "$bin")
printf '%-12s %-7s %6s %9s %8s %8s %8s %-14s %8s %7s\n' set augment factor synthetic teacher student scratch verdict fidelity seconds
for set in "${sets[@]}"; do
  cp "$shared/$set/$set.csv" "$work/$set.csv"
  (cd "$work" && "$bin" -q init "$set.csv" --target "${target[$set]}" --output "$set.toml" >/dev/null)
  rows=$(($(wc -l < "$work/$set.csv") - 1))
  # init's split: 20% test, then 10% of the rest for validation.
  train=$((rows * 72 / 100))
  factor=$(( (50000 + train - 1) / train - 1 ))
  [ "$factor" -gt 9 ] && factor=9
  for augment in munge gibbs mixed; do
    sed "s/^seed = 7/seed = 7\naugment = \"$augment\"\naugment_factor = $factor/" \
      "$work/$set.toml" > "$work/$set-$augment.toml"
    (cd "$work" && "$bin" -q run "$set-$augment.toml" --out runs --no-register --json \
      >"$set-$augment.json" 2>/dev/null || true)
    python3 - "$work/$set-$augment.json" "$set" "$augment" "$factor" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, c, g = r["student"], r["scratch"], r["distillation_gain"]["test"]
print(f'{sys.argv[2]:<12} {sys.argv[3]:<7} {sys.argv[4]:>6} {r["dataset"]["augmented_rows"]:9d} '
      f'{r["teacher"]["accuracy"]:8.4f} {s["accuracy"]:8.4f} {c["accuracy"]:8.4f} {g["verdict"]:<14} '
      f'{s["fidelity"]:8.4f} {r["seconds"]:7.1f}')
PY
  done
done
