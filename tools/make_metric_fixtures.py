"""Reference values for distillery-eval's metrics, from scikit-learn (tests/data/metrics.json).

Seeded cases: binary; 4-class; a 5-class case where one class is never predicted; a 4-class
case where one class never occurs in y_true; and scores rounded to one decimal (ties for
ROC-AUC). Probabilities are rounded to float32 first, so both sides see the same numbers.
ECE (15 equal-width bins on top-label confidence, bins (lo, hi], the first also holding 0)
has no scikit-learn function: it is computed here by an independent numpy implementation.

Usage: python3 tools/make_metric_fixtures.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, brier_score_loss, confusion_matrix, log_loss,
                             precision_recall_fscore_support, roc_auc_score)

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "metrics.json")


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def ece(p, y, bins=15):
    conf = p.max(axis=1)
    pred = p.argmax(axis=1)
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(y) * abs(np.mean(pred[m] == y[m]) - np.mean(conf[m]))
    return float(total)


def case(name, rng, n, k, never_predicted=None, absent=None, ties=False):
    y = rng.integers(0, k, n)
    if absent is not None:
        y[y == absent] = (absent + 1) % k
    z = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    if never_predicted is not None:
        z[:, never_predicted] -= 20
    p = softmax(z)
    if ties:
        p = np.round(p, 1)
        p = p / p.sum(axis=1, keepdims=True)
    p = p.astype(np.float32).astype(np.float64)
    pred = p.argmax(axis=1)
    labels = list(range(k))
    pc, rc, fc, sc = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    avg = {}
    for a in ("macro", "micro", "weighted"):
        pr, re, f1, _ = precision_recall_fscore_support(y, pred, average=a, zero_division=0)
        avg[a] = {"precision": pr, "recall": re, "f1": f1}
    if k == 2:
        auc = roc_auc_score(y, p[:, 1])
    elif absent is None:
        auc = roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels)
    else:
        auc = None
    return {
        "name": name, "k": k, "y": y.tolist(), "p": p.tolist(),
        "accuracy": accuracy_score(y, pred),
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
        "per_class": {"precision": pc.tolist(), "recall": rc.tolist(), "f1": fc.tolist(), "support": sc.tolist()},
        "averages": avg,
        "roc_auc": auc,
        "log_loss": log_loss(y, p, labels=labels),
        "brier": brier_score_loss(y, p if k > 2 else p, labels=labels, scale_by_half=False),
        "ece": ece(p, y),
    }


def main():
    rng = np.random.default_rng(7)
    cases = [
        case("binary", rng, 200, 2),
        case("four_classes", rng, 300, 4),
        case("class_never_predicted", rng, 250, 5, never_predicted=4),
        case("class_absent_from_y_true", rng, 250, 4, absent=3),
        case("tied_scores", rng, 200, 3, ties=True),
    ]
    with open(OUT, "w") as f:
        json.dump({"sklearn": sklearn.__version__, "cases": cases}, f)
    print(f"wrote {len(cases)} cases (scikit-learn {sklearn.__version__})")


if __name__ == "__main__":
    main()
