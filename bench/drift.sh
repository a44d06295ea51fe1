#!/usr/bin/env bash
# Batch drift speed, distillery vs Evidently vs a plain scipy loop, in one run on this machine.
#
# Data: the shared census_kdd file (UCI Census-Income KDD, 299,285 rows), 25 feature columns
# (12 numeric, 13 categorical); reference = rows 1..200,000, current = the last 200,000 rows.
# Every tool gets the two files already in memory; the time covers building both sides'
# distributions and testing every column with its default test (Evidently: Wasserstein /
# Jensen-Shannon at this size; distillery: the same; scipy: ks_2samp / chi2_contingency).
#
# Usage: bench/drift.sh [path to the shared datasets]      (default ../shared/data)
# Python peers are installed into $HOME/.cache/distillery/venv-monitor from bench/drift/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}
out=$PWD/bench/out/drift
mkdir -p "$out"
venv="$HOME/.cache/distillery/venv-monitor"
if ! "$venv/bin/python" -c "import evidently, scipy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/drift/requirements.txt
fi
numeric=age,detailed_industry_recode,detailed_occupation_recode,wage_per_hour,capital_gains,capital_losses,dividends_from_stocks,num_persons_worked_for_employer,own_business_or_self_employed,veterans_benefits,weeks_worked_in_year,year
categorical=class_of_worker,education,enroll_in_edu_inst_last_wk,marital_stat,major_industry_code,major_occupation_code,race,hispanic_origin,sex,member_of_a_labor_union,reason_for_unemployment,full_or_part_time_employment_stat,tax_filer_stat
if [ ! -f "$out/reference.csv" ]; then
  "$venv/bin/python" - "$shared/census_kdd/census_kdd.csv.gz" "$out" "$numeric,$categorical" <<'PY'
import sys
import pandas as pd
src, out, cols = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
d = pd.read_csv(src, usecols=cols, dtype=str, keep_default_na=False)[cols]
d.iloc[:200_000].to_csv(f"{out}/reference.csv", index=False)
d.iloc[-200_000:].to_csv(f"{out}/current.csv", index=False)
PY
fi
{
  cargo bench -q -p distillery-monitor --bench drift -- "$out/reference.csv" "$out/current.csv" "$numeric" "$categorical" 2>/dev/null
  "$venv/bin/python" bench/drift/peers.py "$out/reference.csv" "$out/current.csv" "$numeric" "$categorical" 3
} | tee "$out/results.jsonl"
"$venv/bin/python" - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ours = next(r for r in rows if r["tool"] == "distillery")["best_s"]
print("\n| tool | best of runs (s) | median (s) | columns drifted | distillery is faster by |")
print("|---|---|---|---|---|")
for r in rows:
    ratio = "—" if r["tool"] == "distillery" else f"{r['best_s'] / ours:.1f}×"
    print(f"| {r['tool']} | {r['best_s']:.3f} | {r['median_s']:.3f} | {r['drifted']} | {ratio} |")
PY
