"""Reference missing-value counts for distillery's data checks (tests/data/quality_missing.json).

pandas reads tests/data/adult_sample.csv (UCI Adult, `?` marks a missing value) and
tests/data/credit_sample.csv (modeldata's credit_data, empty cells) with the same missing
tokens distillery uses by default ("", "?", "NA", "N/A", "NaN", "nan", "null"), cells
trimmed, and `isna().sum()` counts per column.

Usage: python3 tools/make_quality_fixtures.py
"""
import json
import os

import pandas as pd

HERE = os.path.dirname(__file__)
DATA = os.path.join(HERE, "..", "tests", "data")
TOKENS = ["", "?", "NA", "N/A", "NaN", "nan", "null"]


def counts(name):
    df = pd.read_csv(os.path.join(DATA, name), dtype=str, keep_default_na=False)
    df = df.apply(lambda c: c.str.strip())
    df = df.replace(TOKENS, pd.NA)
    return {"rows": len(df), "missing": {c: int(n) for c, n in df.isna().sum().items()}}


def main():
    out = {"pandas": pd.__version__}
    for name in ("adult_sample.csv", "credit_sample.csv"):
        out[name] = counts(name)
        print(name, out[name]["missing"])
    with open(os.path.join(DATA, "quality_missing.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
