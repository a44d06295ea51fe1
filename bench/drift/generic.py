"""The generic batch-drift workload of issue #20: data not chosen to flatter anyone.

Two files of 200,000 rows each, 20 continuous numeric columns with many distinct values
(normal, lognormal and bimodal mixtures, printed to 7 significant digits) and 5
categorical columns (4 to 40 levels, skewed). The current file shifts 4 numeric columns
and 1 categorical column by amounts a drift test should catch; the rest are drawn from
the same distributions as the reference. Seeded: the same files on every machine.

Usage: python3 bench/drift/generic.py <out dir> [rows]
Writes <out dir>/reference.csv, current.csv and columns.txt (numeric, then categorical).
"""
import sys

import numpy as np
import pandas as pd


def numeric(rng, kind, rows, shift):
    if kind == "normal":
        return rng.normal(10.0 + shift, 3.0, rows)
    if kind == "lognormal":
        return rng.lognormal(1.0 + 0.2 * shift, 0.8, rows)
    left = rng.normal(-2.0, 1.0, rows)
    right = rng.normal(3.0 + shift, 1.5, rows)
    return np.where(rng.random(rows) < 0.4, left, right)


def frame(seed, rows, drift):
    rng = np.random.default_rng(seed)
    kinds = ["normal", "lognormal", "bimodal"]
    out = {}
    for i in range(20):
        shift = 0.05 if drift and i % 5 == 0 else 0.0
        out[f"x{i}"] = numeric(rng, kinds[i % 3], rows, shift)
    for j, levels in enumerate([4, 8, 12, 25, 40]):
        p = 1.0 / np.arange(1, levels + 1)
        p = p / p.sum()
        if drift and j == 2:
            p = 0.97 * p + 0.03 * p[::-1]
        out[f"c{j}"] = np.array([f"level_{k}" for k in range(levels)])[rng.choice(levels, rows, p=p)]
    return pd.DataFrame(out)


def main():
    out = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    frame(1, rows, False).to_csv(f"{out}/reference.csv", index=False, float_format="%.7g")
    frame(2, rows, True).to_csv(f"{out}/current.csv", index=False, float_format="%.7g")
    with open(f"{out}/columns.txt", "w") as f:
        f.write(",".join(f"x{i}" for i in range(20)) + "\n")
        f.write(",".join(f"c{j}" for j in range(5)) + "\n")


if __name__ == "__main__":
    main()
