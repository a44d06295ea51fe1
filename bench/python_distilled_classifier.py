"""DistilledClassifier with a scikit-learn HistGradientBoostingClassifier teacher against the
same student trained on the labels alone (teacher=None), on the UCI Adult data.

    python bench/python_distilled_classifier.py [path/to/adult.csv] [seeds]

Both students use the defaults (hidden = [64], the recipe's distillation defaults); the
teacher is fitted on the training split only; every number is measured on a held-out 25%
test split the students and the teacher never saw. Prints one JSON object.
"""

import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

import distillery

path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/adult/adult.csv"
seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
data = pd.read_csv(path)
y = data.pop("income-per-year").to_numpy()
X = data
for c in X.select_dtypes(exclude="number").columns:
    X[c] = X[c].astype("category")

rows = []
for seed in range(seeds):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    teacher = HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=seed
    ).fit(X_train, y_train)
    started = time.perf_counter()
    distilled = distillery.DistilledClassifier(teacher=teacher, random_state=seed).fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    labels_only = distillery.DistilledClassifier(random_state=seed).fit(X_train, y_train)
    teacher_pred = teacher.predict(X_test)
    rows.append(
        {
            "seed": seed,
            "teacher_accuracy": float(np.mean(teacher_pred == y_test)),
            "distilled_accuracy": float(distilled.score(X_test, y_test)),
            "labels_only_accuracy": float(labels_only.score(X_test, y_test)),
            "distilled_fidelity": float(np.mean(distilled.predict(X_test) == teacher_pred)),
            "labels_only_fidelity": float(np.mean(labels_only.predict(X_test) == teacher_pred)),
            "distilled_fit_seconds": fit_seconds,
        }
    )

mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "seed"}
print(json.dumps({"rows": len(X), "seeds": seeds, "mean": mean, "per_seed": rows}, indent=2))
