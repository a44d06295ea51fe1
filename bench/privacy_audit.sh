#!/usr/bin/env bash
# The README's privacy measurements on adult: the demo's data and LightGBM teacher, a
# pinned [64] student, with attribute inference on sex, race and marital-status and the
# extraction curve and LiRA with 16 shadow students; then the same student under [privacy]
# epsilon = 3. Prints each run's
# membership, attribute-inference and extraction summary lines, and the curve; then
# the student adversarially trained at ε = 0.1; then `distillery audit` (evasion) on the
# three students, the adversarial rows transferred to the teacher, with every column
# movable and with age, sex and race immutable.
# Usage: bench/privacy_audit.sh [distillery binary]      (default target/release/distillery)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/distillery}")
out=$PWD/bench/out/privacy-audit
rm -rf "$out" && mkdir -p "$out"
"$bin" demo -q --dir "$out/demo" >/dev/null
cd "$out/demo"
base='[data]\ntrain = "train.csv.gz"\ntest = "test.csv.gz"\ntarget = "income-per-year"\n\n[teacher]\nonnx = "teacher.onnx"\n\n[student]\nhidden = [64]\n'
printf "$base"'\n[evaluate]\nsensitive = ["sex", "race", "marital-status"]\nextraction = true\nshadow_models = 16\n' > audit.toml
printf "$base"'\n[privacy]\nepsilon = 3.0\n' > audit-dp.toml
printf "$base"'\n[distill]\nadversarial = { epsilon = 0.1, steps = 3 }\n' > audit-adv.toml
for recipe in audit audit-dp audit-adv; do
  echo "== $recipe.toml"
  "$bin" run -q "$recipe.toml" --json > "$recipe.json" 2> "$recipe.log"
  python3 - "$recipe.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"run took {r['seconds']:.1f} s")
for a in r["membership"]["attacks"]:
    print(f"membership {a['model']:8} {a['attack']:17} AUC {a['auc']:.3f}  TPR@1% {a['tpr_at_1_pct_fpr']:.4f}")
for a in r.get("attribute_inference", []):
    print(f"attribute {a['column']}: {a['without_outputs']:.3f} -> {a['with_outputs']:.3f} "
          f"({100 * (a['with_outputs'] - a['without_outputs']):+.2f} pp, p = {a['p_value']:.3f}; majority {a['majority']:.3f})")
e = r.get("extraction")
if e:
    for s in ("public sample", "uniform"):
        print(f"extraction {s:13}", " ".join(f"{p['queries']}:{p['fidelity']:.3f}" for p in e["points"] if p["strategy"] == s))
    print(f"constant answer {e['constant_baseline']:.3f}; 90% at {e['queries_for_90']}, 99% at {e['queries_for_99']}")
PY
done
for recipe in audit audit-dp audit-adv; do
  run=runs/$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['run_id'])" "$recipe.json")
  echo "== distillery audit ($recipe)"
  "$bin" audit "$run" --teacher teacher.onnx
  echo "== distillery audit ($recipe) --immutable age sex race"
  "$bin" audit "$run" --teacher teacher.onnx --immutable age --immutable sex --immutable race \
    --out "$out/$recipe-immutable.json"
done
