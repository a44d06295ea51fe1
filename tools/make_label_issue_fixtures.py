"""Reference label issues from cleanlab (tests/data/label_issues/).

All 20,000 rows of UCI Letter (from the shared datasets), 5% of their labels flipped at
random to another class (seed 11); out-of-fold probabilities from a 5-fold
cross-validated scikit-learn HistGradientBoostingClassifier on the noisy labels. To keep
the fixture small, each row keeps its 5 most probable classes, quantised to 1/65535 and
renormalised (the other 21 classes get 0); cleanlab's `find_label_issues(labels,
pred_probs)` with its defaults (`filter_by="prune_by_noise_rate"`, single process) runs on
exactly those reconstructed probabilities.

Writes top5.bin (per row, 5 × [u8 class, u16 little-endian probability · 65535]) and
cases.json (labels, flipped rows, cleanlab's flagged rows, versions).

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
TOP = 5


def reconstruct(classes, values, k):
    p = np.zeros((len(classes), k))
    np.put_along_axis(p, classes.astype(np.int64), values.astype(np.float64) / 65535.0, axis=1)
    return p / p.sum(axis=1, keepdims=True)


def main():
    df = pd.read_csv(os.path.join(sys.argv[1], "letter", "letter.csv"))
    rng = np.random.default_rng(11)
    classes = sorted(df["lettr"].unique())
    y_true = df["lettr"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    x = df.drop(columns=["lettr"]).to_numpy(dtype=float)
    k = len(classes)
    flipped = np.sort(rng.choice(len(y_true), len(y_true) // 20, replace=False))
    y = y_true.copy()
    y[flipped] = (y[flipped] + rng.integers(1, k, len(flipped))) % k
    model = HistGradientBoostingClassifier(max_iter=200, random_state=0)
    p = cross_val_predict(model, x, y, cv=5, method="predict_proba")
    top = np.argsort(-p, axis=1, kind="stable")[:, :TOP]
    q = np.clip(np.round(np.take_along_axis(p, top, axis=1) * 65535), 1, 65535).astype("<u2")
    p = reconstruct(top, q, k)
    mask = find_label_issues(y, p, n_jobs=1)
    os.makedirs(OUT, exist_ok=True)
    rows = bytearray()
    for i in range(len(y)):
        for j in range(TOP):
            rows += int(top[i, j]).to_bytes(1, "little") + int(q[i, j]).to_bytes(2, "little")
    with open(os.path.join(OUT, "top5.bin"), "wb") as f:
        f.write(bytes(rows))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({
            "source": "UCI Letter via the shared datasets (letter/letter.csv), all 20,000 rows",
            "cleanlab": cleanlab.__version__, "sklearn": sklearn.__version__,
            "n": len(y), "k": k, "top": TOP, "classes": classes,
            "labels": y.tolist(), "flipped": flipped.tolist(),
            "cleanlab_issues": np.flatnonzero(mask).tolist(),
        }, f)
    caught = len(set(np.flatnonzero(mask)) & set(flipped.tolist()))
    print(f"cleanlab flags {mask.sum()} rows; {caught} of {len(flipped)} flipped rows among them")


if __name__ == "__main__":
    main()
