"""Writes an MLServer model repository serving a scikit-learn teacher trained on a CSV.

Usage: mlserver_teacher.py TRAIN_CSV TARGET OUT_DIR HTTP_PORT GRPC_PORT

The teacher is a scikit-learn Pipeline (one-hot categories, scaled numbers, gradient
boosting) saved with joblib and served by MLServer's own scikit-learn runtime
(mlserver-sklearn), configured to read the request as a DataFrame (content type `pd`) and
to answer `predict_proba`. Prints the classes in the order of the probabilities.
"""
import json
import os
import sys

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

train, target, out, http_port, grpc_port = sys.argv[1:6]
frame = pd.read_csv(train, skipinitialspace=True, na_values=["?", ""])
y = frame.pop(target)
categorical = [c for c in frame.columns if frame[c].dtype == object]
numeric = [c for c in frame.columns if c not in categorical]
model = Pipeline([
    ("encode", ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ("numbers", StandardScaler(), numeric),
    ])),
    ("boost", HistGradientBoostingClassifier(max_iter=100, random_state=0)),
])
model.fit(frame, y)
os.makedirs(os.path.join(out, "teacher"), exist_ok=True)
joblib.dump(model, os.path.join(out, "teacher", "model.joblib"))
with open(os.path.join(out, "teacher", "model-settings.json"), "w") as fh:
    json.dump({
        "name": "teacher",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {
            "uri": "./model.joblib",
            "content_type": "pd",
            "extra": {"predict_fn": "predict_proba"},
        },
    }, fh)
with open(os.path.join(out, "settings.json"), "w") as fh:
    json.dump({
        "http_port": int(http_port),
        "grpc_port": int(grpc_port),
        "metrics_port": 0,
        "parallel_workers": 0,
        "debug": False,
    }, fh)
print(json.dumps({"classes": [str(c) for c in model.classes_]}))
