#!/usr/bin/env bash
# The accuracy cost of differential privacy on adult: the demo's data and LightGBM teacher,
# a pinned [64] student, augment = "none", trained without [privacy] and with ε = 8, 3, 1
# (δ = 1e-5, clipping norm 1). Prints one markdown row per setting: student and scratch
# test accuracy, the ε spent, the noise multiplier.
# Usage: bench/privacy_cost.sh [distillery binary]      (default target/release/distillery)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/distillery}")
out=$PWD/bench/out/privacy
rm -rf "$out" && mkdir -p "$out"
"$bin" demo -q --dir "$out/demo" >/dev/null
cd "$out/demo"
echo "| ε target | student accuracy | scratch accuracy | distillation vs scratch | ε spent | noise multiplier | steps |"
echo "|---|---|---|---|---|---|---|"
for eps in none 8 3 1; do
  {
    printf '[data]\ntrain = "train.csv.gz"\ntest = "test.csv.gz"\ntarget = "income-per-year"\n\n'
    printf '[teacher]\nonnx = "teacher.onnx"\n\n[student]\nhidden = [64]\n\n[distill]\naugment = "none"\n'
    [ "$eps" != none ] && printf '\n[privacy]\nepsilon = %s\n' "$eps"
  } > "dp-$eps.toml"
  "$bin" run -q "dp-$eps.toml" --json > "dp-$eps.json" 2> "dp-$eps.log"
  python3 - "dp-$eps.json" "$eps" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r.get("privacy")
g = r["distillation_gain"]["test"]
print(f"| {'∞ (no privacy)' if sys.argv[2] == 'none' else sys.argv[2]} | {r['student']['accuracy']:.4f} | "
      f"{r['scratch']['accuracy']:.4f} | {100 * (g['accuracy'] - g['baseline_accuracy']):+.2f} pp (p = {g['p_value']:.3f}) | "
      f"{p['epsilon']:.3f} | {p['noise_multiplier']:.3f} | {p['steps']:,} |" if p else
      f"| ∞ (no privacy) | {r['student']['accuracy']:.4f} | {r['scratch']['accuracy']:.4f} | "
      f"{100 * (g['accuracy'] - g['baseline_accuracy']):+.2f} pp (p = {g['p_value']:.3f}) | – | – | – |")
PY
done
