"""Writes the drift fixtures under tests/data/drift/ that distillery-monitor is checked against.

- car_loan_sample.csv: 2,400 rows of NannyML's synthetic car-loan data (the shared
  datasets' car_loan_drift/car_loan_drift.csv; PyPI nannyml 0.13.1, Apache-2.0): 1,200 drawn
  (seed 5) from the reference period and 1,200 from the analysis period, whose last third
  has drifted (car_value up, fewer 60K+ salaries).
- evidently.json: Evidently 0.7.23's legacy DataDriftTable on three splits of that sample
  (small reference, so KS / chi-square / Z; large reference, so Wasserstein / Jensen-Shannon;
  and every column forced to PSI), per column: test, score, threshold, verdict.
- nannyml.json: NannyML 0.13.1's CBPE (binary accuracy and F1, chunks of 200 rows) fitted on the
  sample's reference period and estimated on its analysis period, with the realized values.
- multiclass_sample.csv and nannyml_multiclass.json: 1,500 reference and 1,500 analysis rows
  (seed 5) of NannyML's synthetic three-class credit-card data (package data of nannyml 0.13.1,
  Apache-2.0: the model's class probabilities, prediction and the true class), and NannyML's
  multiclass CBPE (accuracy and macro F1, chunks of 250) on them.
- scipy.json: scipy 1.17.1's ks_2samp, chisquare, wasserstein_distance and jensenshannon on
  generated samples covering every branch of the KS p-value (exact square and rectangular
  lattices, ties, the asymptotic method's Durbin, Pelz-Good and Smirnov regions).

The generated samples come from an integer recipe that the Rust tests rebuild:
x_i = ((i * a + b) mod m) * scale / m + shift, for i in 0..n, rounded to `digits` decimals
when `digits` >= 0 (to make ties).

Usage: python3 tools/make_drift_fixtures.py <path to car_loan_drift.csv>
(needs evidently==0.7.23, scipy==1.17.1 besides tools/requirements.txt)
"""
import json
import os
import sys
import warnings

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from evidently.legacy.metrics import DataDriftTable
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "tests", "data", "drift")

NUMERIC = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure"]
CATEGORICAL = ["salary_range", "repaid_loan_on_prev_car", "size_of_downpayment"]
KEEP = ["id"] + NUMERIC + CATEGORICAL + ["repaid", "timestamp", "y_pred_proba", "y_pred", "period"]


def sample(path):
    d = pd.read_csv(path)
    ref = d[d.period == "reference"].sample(n=1200, random_state=5)
    ana = d[d.period == "analysis"].sample(n=1200, random_state=5)
    out = pd.concat([ref, ana]).sort_values("id")[KEEP]
    out.to_csv(os.path.join(OUT, "car_loan_sample.csv"), index=False)
    # Read back as the tests will, so both sides see the same cells.
    return pd.read_csv(os.path.join(OUT, "car_loan_sample.csv"), dtype={"repaid_loan_on_prev_car": str})


def evidently_case(name, ref, cur, per_column=None):
    mapping = ColumnMapping(numerical_features=NUMERIC, categorical_features=CATEGORICAL,
                            target=None, prediction=None)
    metric = DataDriftTable(columns=NUMERIC + CATEGORICAL, per_column_stattest=per_column)
    report = Report(metrics=[metric])
    report.run(reference_data=ref[NUMERIC + CATEGORICAL], current_data=cur[NUMERIC + CATEGORICAL],
               column_mapping=mapping)
    result = report.as_dict()["metrics"][0]["result"]
    columns = {}
    for col, r in result["drift_by_columns"].items():
        columns[col] = {
            "test": r["stattest_name"],
            "score": float(r["drift_score"]),
            "threshold": float(r["stattest_threshold"]),
            "drifted": bool(r["drift_detected"]),
        }
    return {
        "name": name,
        "reference_ids": [int(i) for i in ref["id"]],
        "current_ids": [int(i) for i in cur["id"]],
        "columns": columns,
        "drifted_columns": int(result["number_of_drifted_columns"]),
        "share_drifted": float(result["share_of_drifted_columns"]),
        "dataset_drift": bool(result["dataset_drift"]),
    }


def generated(n, a, b, m, scale, shift, digits):
    i = np.arange(n, dtype=np.int64)
    x = ((i * a + b) % m).astype(np.float64) * scale / m + shift
    if digits >= 0:
        x = np.round(x, digits)
    return x


def scipy_cases():
    specs = [
        # (label, sample 1, sample 2): (n, a, b, m, scale, shift, digits)
        ("equal sizes, exact", (300, 7919, 11, 10007, 1.0, 0.0, -1), (300, 104729, 5, 10009, 1.0, 0.05, -1)),
        ("unequal sizes, exact", (700, 7919, 3, 10007, 1.0, 0.0, -1), (1300, 15485863, 1, 65537, 1.1, 0.0, -1)),
        ("ties, exact", (800, 7919, 3, 10007, 10.0, 0.0, 0), (950, 104729, 9, 10009, 10.0, 0.3, 0)),
        ("no difference, exact", (500, 7919, 3, 10007, 1.0, 0.0, -1), (500, 7919, 3, 10007, 1.0, 0.0, -1)),
        ("large shift, exact", (1000, 7919, 3, 10007, 1.0, 0.0, -1), (9000, 104729, 5, 100003, 1.0, 0.2, -1)),
        ("asymptotic, Durbin region", (1000, 7919, 3, 10007, 1.0, 0.0, -1), (20000, 104729, 5, 100003, 1.0, 0.006, -1)),
        ("asymptotic, Pelz-Good region", (1000, 7919, 3, 10007, 1.0, 0.0, -1), (20000, 104729, 5, 100003, 1.0, 0.03, -1)),
        ("asymptotic, Smirnov region", (1000, 7919, 3, 10007, 1.0, 0.0, -1), (20000, 104729, 5, 100003, 1.0, 0.08, -1)),
        ("asymptotic, small n", (100, 7919, 3, 10007, 1.0, 0.0, -1), (12000, 104729, 5, 100003, 1.0, 0.1, -1)),
        ("asymptotic, small n, far", (100, 7919, 3, 10007, 1.0, 0.0, -1), (12000, 104729, 5, 100003, 1.0, 0.35, -1)),
    ]
    out = []
    for label, s1, s2 in specs:
        x, y = generated(*s1), generated(*s2)
        r = stats.ks_2samp(x, y)
        out.append({
            "label": label, "first": list(s1), "second": list(s2),
            "ks_statistic": float(r.statistic), "ks_p_value": float(r.pvalue),
            "wasserstein": float(stats.wasserstein_distance(x, y)),
            "std_first": float(np.std(x)),
        })
    counts = []
    for obs, ref in [([30, 25, 25, 20], [250, 250, 260, 240]), ([5, 80, 15], [300, 500, 200]),
                     ([400, 410, 190], [4000, 4000, 2000])]:
        obs_a, ref_a = np.array(obs, float), np.array(ref, float)
        exp = ref_a * obs_a.sum() / ref_a.sum()
        p = ref_a / ref_a.sum()
        q = obs_a / obs_a.sum()
        counts.append({
            "observed": obs, "reference": ref,
            "chisquare_statistic": float(stats.chisquare(obs_a, exp).statistic),
            "chisquare_p_value": float(stats.chisquare(obs_a, exp).pvalue),
            "jensenshannon": float(distance.jensenshannon(p, q)),
        })
    return {"ks_and_wasserstein": out, "counts": counts}


def nannyml_case(data):
    import nannyml as nml
    ref = data[data.period == "reference"]
    ana = data[data.period == "analysis"]
    est = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="repaid", metrics=["accuracy", "f1"],
                   chunk_size=200, problem_type="classification_binary")
    est.fit(ref)
    r = est.estimate(ana).to_df(multilevel=False)
    keep = ["chunk_period", "chunk_start_index", "chunk_end_index"]
    for m in ["accuracy", "f1"]:
        keep += [f"{m}_value", f"{m}_realized", f"{m}_sampling_error", f"{m}_upper_confidence_boundary",
                 f"{m}_lower_confidence_boundary", f"{m}_lower_threshold", f"{m}_upper_threshold", f"{m}_alert"]
    return {"nannyml": "0.13.1", "chunk_size": 200, "needs_calibration": bool(est.needs_calibration),
            "chunks": [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                       for row in r[keep].to_dict(orient="records")]}


def nannyml_multiclass_case():
    import nannyml as nml
    base = os.path.join(os.path.dirname(nml.__file__), "datasets", "data")
    classes = ["prepaid_card", "highstreet_card", "upmarket_card"]
    proba = [f"y_pred_proba_{c}" for c in classes]
    ref = pd.read_csv(os.path.join(base, "mc_reference.csv")).sample(n=1500, random_state=5).sort_values("id")
    ana = pd.read_csv(os.path.join(base, "mc_analysis.csv")).merge(
        pd.read_csv(os.path.join(base, "mc_analysis_gt.csv")), on="id")
    ana = ana.sample(n=1500, random_state=5).sort_values("id")
    ref["period"], ana["period"] = "reference", "analysis"
    keep = ["id"] + proba + ["y_pred", "y_true", "period"]
    pd.concat([ref[keep], ana[keep]]).to_csv(os.path.join(OUT, "multiclass_sample.csv"), index=False)
    est = nml.CBPE(y_pred_proba=dict(zip(classes, proba)), y_pred="y_pred", y_true="y_true",
                   metrics=["accuracy", "f1"], chunk_size=250, problem_type="classification_multiclass")
    est.fit(ref[keep])
    r = est.estimate(ana[keep]).to_df(multilevel=False)
    cols = ["chunk_period"]
    for m in ["accuracy", "f1"]:
        cols += [f"{m}_value", f"{m}_realized", f"{m}_sampling_error", f"{m}_lower_threshold",
                 f"{m}_upper_threshold", f"{m}_alert"]
    return {"nannyml": "0.13.1", "chunk_size": 250, "classes": classes,
            "chunks": [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                       for row in r[cols].to_dict(orient="records")]}


def main():
    os.makedirs(OUT, exist_ok=True)
    warnings.simplefilter("ignore")
    data = sample(sys.argv[1])
    ref = data[data.period == "reference"]
    ana = data[data.period == "analysis"]
    late = ana[ana.id >= 75000]
    early = ana[ana.id < 70000]
    psi = {c: "psi" for c in NUMERIC + CATEGORICAL}
    cases = [
        evidently_case("small reference, drifted current", ref.iloc[:800], late),
        evidently_case("small reference, undrifted current", ref.iloc[:800], early),
        evidently_case("large reference, whole analysis period", ref, ana),
        evidently_case("large reference, drifted current, PSI", ref, late, psi),
    ]
    with open(os.path.join(OUT, "evidently.json"), "w") as f:
        json.dump({"evidently": "0.7.23", "numeric": NUMERIC, "categorical": CATEGORICAL, "cases": cases},
                  f, indent=1)
    with open(os.path.join(OUT, "nannyml.json"), "w") as f:
        json.dump(nannyml_case(data), f, indent=1)
    with open(os.path.join(OUT, "nannyml_multiclass.json"), "w") as f:
        json.dump(nannyml_multiclass_case(), f, indent=1)
    with open(os.path.join(OUT, "scipy.json"), "w") as f:
        json.dump({"scipy": "1.17.1", **scipy_cases()}, f, indent=1)


if __name__ == "__main__":
    main()
