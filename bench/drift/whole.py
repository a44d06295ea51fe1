"""One whole-process drift check by a peer, as a user would run it: start Python, import,
read both CSV files with pandas, test every column, print the verdicts. `bench/peers.py`
times this process from the outside, the same way it times `distillery drift`.

Usage: python bench/drift/whole.py <scipy|evidently> <reference.csv> <current.csv> <numeric,...> <categorical,...>
"""
import json
import sys
import warnings


def main():
    warnings.simplefilter("ignore")
    tool, ref_path, cur_path, num, cat = sys.argv[1:6]
    import pandas as pd

    numeric = [c for c in num.split(",") if c]
    categorical = [c for c in cat.split(",") if c]
    dtypes = {c: str for c in categorical}
    ref = pd.read_csv(ref_path, usecols=numeric + categorical, dtype=dtypes)
    cur = pd.read_csv(cur_path, usecols=numeric + categorical, dtype=dtypes)
    if tool == "scipy":
        sys.path.insert(0, __file__.rsplit("/", 1)[0])
        from peers import scipy_scores

        scores = scipy_scores(ref, cur, numeric, categorical)
        drifted = sum(p < 0.05 for p in scores.values())
    else:
        from evidently.legacy.metrics import DataDriftTable
        from evidently.legacy.pipeline.column_mapping import ColumnMapping
        from evidently.legacy.report import Report

        mapping = ColumnMapping(numerical_features=numeric, categorical_features=categorical,
                                target=None, prediction=None)
        report = Report(metrics=[DataDriftTable()])
        report.run(reference_data=ref, current_data=cur, column_mapping=mapping)
        drifted = report.as_dict()["metrics"][0]["result"]["number_of_drifted_columns"]
    print(json.dumps({"tool": tool, "drifted": int(drifted)}))


if __name__ == "__main__":
    main()
