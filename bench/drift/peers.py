"""Batch drift with the peers, on the same two files: Evidently's data drift report
(legacy DataDriftTable, its default tests) and a plain scipy loop (ks_2samp per numeric
column, chi2_contingency per categorical column). Files are read first, untimed.

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


def main():
    warnings.simplefilter("ignore")
    ref_path, cur_path, num, cat = sys.argv[1:5]
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    numeric = [c for c in num.split(",") if c]
    categorical = [c for c in cat.split(",") if c]
    dtypes = {c: str for c in categorical}
    ref = pd.read_csv(ref_path, usecols=numeric + categorical, dtype=dtypes)
    cur = pd.read_csv(cur_path, usecols=numeric + categorical, dtype=dtypes)

    def scipy_loop():
        drifted = 0
        for c in numeric:
            drifted += stats.ks_2samp(ref[c].dropna(), cur[c].dropna()).pvalue < 0.05
        for c in categorical:
            both = pd.concat([ref[c], cur[c]], ignore_index=True)
            side = np.r_[np.zeros(len(ref), int), np.ones(len(cur), int)]
            table = pd.crosstab(both, side)
            drifted += stats.chi2_contingency(table.values).pvalue < 0.05
        return int(drifted)

    best, median, drifted = timed(scipy_loop, repeats)
    print(json.dumps({"tool": "scipy loop", "best_s": best, "median_s": median, "drifted": drifted}))

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
    print(json.dumps({"tool": "evidently", "best_s": best, "median_s": median, "drifted": int(drifted)}))


if __name__ == "__main__":
    main()
