"""The `[extraction]` rule's numbers on adult: the share of rows that are off profile (a
numeric column more than 4 training standard deviations from its mean) among the real rows,
and among rows drawn uniformly over each numeric column's range, as a copier without data
would query. (Categories are left out: real rows and a sweep over the known levels are both
on profile there.)

Usage: python bench/sweep_share.py <shared-data-dir> [z]     (needs pandas and numpy)
"""
import os
import sys

import numpy as np
import pandas as pd

NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]


def main(shared, z=4.0):
    f = pd.read_csv(os.path.join(shared, "adult", "adult.csv"), keep_default_na=False,
                    na_values=["", "?"])
    mean, sd = f[NUMERIC].mean(), f[NUMERIC].std(ddof=0)
    real = ((f[NUMERIC] - mean) / sd).abs().gt(z).any(axis=1).mean()
    rng = np.random.default_rng(0)
    sweep = pd.DataFrame({c: rng.uniform(f[c].min(), f[c].max(), 100_000) for c in NUMERIC})
    swept = ((sweep - mean) / sd).abs().gt(z).any(axis=1).mean()
    print(f"off profile at z = {z}: real rows {100 * real:.1f}%, uniform sweep {100 * swept:.1f}%")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 4.0)
