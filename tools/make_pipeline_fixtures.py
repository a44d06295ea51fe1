"""Builds scikit-learn Pipeline teachers exported the usual way (skl2onnx, one input per
column: strings for categories, floats with NaN for numbers, ZipMap on) and their
onnxruntime outputs, for distillery's tests of the ai.onnx.ml preprocessing operators.

- `pipeline_gb`: ColumnTransformer(OneHotEncoder on the text columns + SimpleImputer and
  StandardScaler on the numbers) + GradientBoostingClassifier (OneHotEncoder, Imputer,
  Scaler, Concat, Reshape, TreeEnsembleClassifier, ZipMap).
- `pipeline_rf`: ColumnTransformer(OrdinalEncoder on the text columns, Binarizer on the
  capital columns, Normalizer on the other numbers) + RandomForestClassifier (LabelEncoder,
  Binarizer, Normalizer, Cast, Concat, TreeEnsembleClassifier, ZipMap).

Both train on tests/data/adult_sample.csv (missing cells: text as "", numbers as NaN, which
is what distillery feeds) and write `<name>.onnx` plus `<name>.json` ({"columns": {name:
[values of 64 rows]}, "probabilities": [[...]], "classes": [...], "onnxruntime": version}).

Usage: python3 tools/make_pipeline_fixtures.py tests/data/adult_sample.csv tests/data/teachers
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Binarizer, Normalizer, OneHotEncoder, OrdinalEncoder, StandardScaler

SEED = 7
TARGET = "income-per-year"


def load(path):
    frame = pd.read_csv(path, na_values=["?", ""], keep_default_na=False)
    y = frame.pop(TARGET).astype(str)
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    numbers = [c for c in frame.columns if c not in text]
    for c in text:
        frame[c] = frame[c].fillna("").astype(object).astype(str)
    for c in numbers:
        frame[c] = frame[c].astype(np.float32)
    return frame, y, text, numbers


def pipelines(text, numbers):
    capital = ["capital-gain", "capital-loss"]
    others = [c for c in numbers if c not in capital]
    gb = Pipeline([
        ("pre", ColumnTransformer([
            ("text", OneHotEncoder(handle_unknown="ignore"), text),
            ("numbers", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), numbers),
        ])),
        ("model", GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=SEED)),
    ])
    rf = Pipeline([
        ("pre", ColumnTransformer([
            ("text", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), text),
            ("capital", Binarizer(threshold=0.0), capital),
            ("numbers", Pipeline([("impute", SimpleImputer()), ("norm", Normalizer())]), others),
        ])),
        ("model", RandomForestClassifier(n_estimators=10, max_depth=6, random_state=SEED)),
    ])
    return {"pipeline_gb": gb, "pipeline_rf": rf}


def main(sample, out):
    frame, y, text, numbers = load(sample)
    rows = frame.head(64).copy()
    # a few missing values, as the table reader hands them over
    rows.loc[rows.index[2], "age"] = np.nan
    rows.loc[rows.index[5], "workclass"] = ""
    rows.loc[rows.index[7], "native-country"] = "Atlantis"
    for name, pipe in pipelines(text, numbers).items():
        pipe.fit(frame, y)
        types = [(c, StringTensorType([None, 1]) if c in text else FloatTensorType([None, 1]))
                 for c in frame.columns]
        model = convert_sklearn(pipe, initial_types=types, target_opset={"": 15, "ai.onnx.ml": 3})
        path = os.path.join(out, f"{name}.onnx")
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feeds = {}
        for i in sess.get_inputs():
            column = frame.columns[[c.replace("-", "_") for c in frame.columns].index(i.name)] \
                if i.name not in frame.columns else i.name
            values = rows[column].to_numpy()
            feeds[i.name] = values.reshape(-1, 1).astype(object if column in text else np.float32)
        label, maps = sess.run(None, feeds)
        classes = list(maps[0].keys())
        probs = [[float(m[c]) for c in classes] for m in maps]
        columns = {c: [None if (c in numbers and np.isnan(v)) else (v if c in text else float(v))
                       for v in rows[c].tolist()] for c in frame.columns}
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump({"onnxruntime": ort.__version__, "classes": classes, "columns": columns,
                       "probabilities": probs}, f)
        ops = sorted({(n.domain, n.op_type) for n in model.graph.node})
        print(f"{path}: {os.path.getsize(path)} bytes, inputs {[i.name for i in sess.get_inputs()][:3]}..., ops {ops}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
