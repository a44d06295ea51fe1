"""Reference missing-value counts for distillery's data checks (tests/data/quality_missing.json).

pandas reads tests/data/adult_sample.csv (UCI Adult, `?` marks a missing value) with the
same missing tokens distillery uses by default ("", "?", "NA", "N/A", "NaN", "nan",
"null"), cells trimmed, and `isna().sum()` counts per column.

Usage: python3 tools/make_quality_fixtures.py
"""
import json
import os

import pandas as pd

HERE = os.path.dirname(__file__)
DATA = os.path.join(HERE, "..", "tests", "data")
TOKENS = ["", "?", "NA", "N/A", "NaN", "nan", "null"]


def main():
    df = pd.read_csv(os.path.join(DATA, "adult_sample.csv"), dtype=str, keep_default_na=False)
    df = df.apply(lambda c: c.str.strip())
    df = df.replace(TOKENS, pd.NA)
    counts = {c: int(n) for c, n in df.isna().sum().items()}
    out = {"pandas": pd.__version__, "file": "adult_sample.csv", "rows": len(df), "missing": counts}
    with open(os.path.join(DATA, "quality_missing.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(counts)


if __name__ == "__main__":
    main()
