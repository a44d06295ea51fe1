"""Reference label issues from cleanlab (tests/data/label_issues/).

3,000 seeded rows of UCI Letter (from the shared datasets), 5% of their labels flipped at
random to another class (seed 11); out-of-fold probabilities from a 5-fold
cross-validated scikit-learn HistGradientBoostingClassifier on the noisy labels, rounded to
float32; then cleanlab's `find_label_issues(labels, pred_probs)` with its defaults
(`filter_by="prune_by_noise_rate"`), single process.

Writes probs.f32 (row-major n × 26, little-endian float32) and cases.json (labels, the
flipped rows, cleanlab's flagged rows, versions). The Rust test compares its own
confident-learning filter with cleanlab's on exactly these probabilities.

Usage: python3 tools/make_label_issue_fixtures.py <path-to-shared-data>
"""
import json
import os
import sys

import cleanlab
import numpy as np
import pandas as pd
import sklearn
from cleanlab.filter import find_label_issues
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_predict

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "label_issues")


def main():
    shared = sys.argv[1]
    df = pd.read_csv(os.path.join(shared, "letter", "letter.csv"))
    rng = np.random.default_rng(11)
    rows = rng.choice(len(df), 3000, replace=False)
    df = df.iloc[np.sort(rows)].reset_index(drop=True)
    classes = sorted(df["lettr"].unique())
    y_true = df["lettr"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    x = df.drop(columns=["lettr"]).to_numpy(dtype=float)
    k = len(classes)
    flipped = np.sort(rng.choice(len(y_true), int(0.05 * len(y_true)), replace=False))
    y = y_true.copy()
    for i in flipped:
        y[i] = (y[i] + rng.integers(1, k)) % k
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    p = cross_val_predict(model, x, y, cv=5, method="predict_proba").astype(np.float32)
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    mask = find_label_issues(y, p.astype(np.float64), n_jobs=1)
    os.makedirs(OUT, exist_ok=True)
    p.astype("<f4").tofile(os.path.join(OUT, "probs.f32"))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({
            "source": "UCI Letter via the shared datasets (letter/letter.csv), 3,000 seeded rows",
            "cleanlab": cleanlab.__version__, "sklearn": sklearn.__version__,
            "n": len(y), "k": k, "classes": classes,
            "labels": y.tolist(), "flipped": flipped.tolist(),
            "cleanlab_issues": np.flatnonzero(mask).tolist(),
        }, f)
    caught = len(set(np.flatnonzero(mask)) & set(flipped.tolist()))
    print(f"cleanlab flags {mask.sum()} rows; {caught} of {len(flipped)} flipped rows among them")


if __name__ == "__main__":
    main()
