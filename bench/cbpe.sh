#!/usr/bin/env bash
# CBPE on the whole car-loan data, distillery vs NannyML 0.13.1: the same chunks of 5,000,
# estimated accuracy and F1 per chunk side by side, the largest difference, alerts and time.
# Usage: bench/cbpe.sh [path to the shared datasets]     (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}
data=$(realpath "$shared/car_loan_drift/car_loan_drift.csv")
out=$PWD/bench/out/cbpe
mkdir -p "$out"
venv=${PEERS_VENV:-$HOME/.cache/distillery/venv-monitor}
if ! "$venv/bin/python" -c "import nannyml" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/drift/requirements.txt
fi
cargo bench -q -p distillery-monitor --bench cbpe -- "$data" 2>/dev/null > "$out/distillery.jsonl"
"$venv/bin/python" - "$data" "$out/distillery.jsonl" <<'PY'
import json, sys, time, warnings
import pandas as pd, nannyml as nml
warnings.simplefilter("ignore")
d = pd.read_csv(sys.argv[1])
ref, ana = d[d.period == "reference"], d[d.period == "analysis"]
t = time.perf_counter()
est = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="repaid", metrics=["accuracy", "f1"],
               chunk_size=5000, problem_type="classification_binary")
est.fit(ref)
r = est.estimate(ana).to_df(multilevel=False)
seconds = time.perf_counter() - t
ours = [json.loads(l) for l in open(sys.argv[2])]
chunks, timing = [o for o in ours if "accuracy" in o], ours[-1]
print("| chunk | period | NannyML accuracy | distillery accuracy | NannyML F1 | distillery F1 | alert (both) |")
print("|---|---|---|---|---|---|---|")
worst = 0.0
for i, (o, (_, row)) in enumerate(zip(chunks, r.iterrows())):
    alert_n = bool(row.accuracy_alert or row.f1_alert)
    worst = max(worst, abs(o["accuracy"] - row.accuracy_value), abs(o["f1"] - row.f1_value))
    print(f"| {i} | {row.chunk_period} | {row.accuracy_value:.4f} | {o['accuracy']:.4f} | {row.f1_value:.4f} | {o['f1']:.4f} | "
          f"{alert_n} / {o['alert']} |")
print(f"\nlargest difference {worst:.2e}; NannyML {seconds:.2f} s (calibrated: {est.needs_calibration}), "
      f"distillery {timing['seconds']:.3f} s (calibrated: {timing['calibrated']})")
print(json.dumps({"distillery_s": timing["seconds"], "nannyml_s": seconds, "largest_difference": worst,
                  "nannyml": nml.__version__}))
PY
