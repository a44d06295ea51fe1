"""Batch drift with the peers, on the same two files: Evidently's data drift report
(legacy DataDriftTable, its default tests) and a plain scipy loop running the tests
distillery runs with `ks,chisquare`: ks_2samp per numeric column, and per categorical
column scipy's chisquare of the current counts against the counts the reference shares
expect (Evidently's chi-square). Files are read first, untimed; each tool line carries
the per-column p-values, for checking that both give the same verdicts.

Usage: python bench/drift/peers.py <reference.csv> <current.csv> <numeric,...> <categorical,...> [repeats]
Prints one JSON line per tool: best and median seconds.
"""
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats


def timed(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2], out


def scipy_scores(ref, cur, numeric, categorical):
    """p-values per column: ks_2samp, and Evidently's chi-square of the current counts
    against the counts the reference shares expect."""
    scores = {}
    for c in numeric:
        scores[c] = float(stats.ks_2samp(ref[c].dropna(), cur[c].dropna()).pvalue)
    for c in categorical:
        r = ref[c].dropna().value_counts()
        k = cur[c].dropna().value_counts()
        keys = r.index.union(k.index)
        observed = k.reindex(keys, fill_value=0).to_numpy(float)
        expected = r.reindex(keys, fill_value=0).to_numpy(float) / r.sum() * observed.sum()
        scores[c] = float(stats.chisquare(observed, expected).pvalue)
    return scores


def main():
    warnings.simplefilter("ignore")
    ref_path, cur_path, num, cat = sys.argv[1:5]
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    numeric = [c for c in num.split(",") if c]
    categorical = [c for c in cat.split(",") if c]
    dtypes = {c: str for c in categorical}
    ref = pd.read_csv(ref_path, usecols=numeric + categorical, dtype=dtypes)
    cur = pd.read_csv(cur_path, usecols=numeric + categorical, dtype=dtypes)

    best, median, scores = timed(lambda: scipy_scores(ref, cur, numeric, categorical), repeats)
    drifted = sum(p < 0.05 for p in scores.values())
    print(json.dumps({"tool": "scipy loop", "tests": "ks,chisquare", "best_s": best, "median_s": median,
                      "drifted": drifted, "scores": scores}))

    from evidently.legacy.metrics import DataDriftTable
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report

    def evidently():
        mapping = ColumnMapping(numerical_features=numeric, categorical_features=categorical,
                                target=None, prediction=None)
        report = Report(metrics=[DataDriftTable()])
        report.run(reference_data=ref, current_data=cur, column_mapping=mapping)
        return report.as_dict()["metrics"][0]["result"]["number_of_drifted_columns"]

    best, median, drifted = timed(evidently, repeats)
    print(json.dumps({"tool": "evidently", "tests": "default", "best_s": best, "median_s": median, "drifted": int(drifted)}))


if __name__ == "__main__":
    main()
