"""Builds the small ONNX teachers under tests/data/teachers/ and their onnxruntime outputs.

For each kind (sklearn MLP, RandomForest, GradientBoosting, LightGBM, XGBoost) and each task
(binary: phishing; multiclass: letter), trains a small model, exports it to ONNX with the
probabilities as a plain tensor (ZipMap off), runs onnxruntime on fixture rows and writes
`<kind>_<task>.onnx` plus `<kind>_<task>.json` ({"inputs": [[...]], "probabilities": [[...]],
"onnxruntime": version}). distillery's teacher tests must reproduce these within 1e-5.
The `*_zipmap` kinds are the converters' defaults (skl2onnx and onnxmltools end the graph in
a ZipMap: a sequence of {class: probability} maps), written as a matrix in class order.

Usage: python3 tools/make_teacher_fixtures.py ../shared/data tests/data/teachers [kinds...]
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.neural_network import MLPClassifier

import teachers

SEED = 7


def load(shared, task):
    if task == "binary":
        frame = teachers.read_table(os.path.join(shared, "phishing", "phishing.csv"))
        target = "is_phishing"
    else:
        frame = teachers.read_table(os.path.join(shared, "letter", "letter.csv"))
        frame = frame[frame["lettr"].isin(list("ABCDE"))]
        target = "lettr"
    frame = frame.sample(n=min(len(frame), 1200), random_state=SEED).reset_index(drop=True)
    inputs = [c for c in frame.columns if c != target]
    x = frame[inputs].to_numpy(dtype=np.float32)
    y = frame[target].astype(str).to_numpy()
    return x, y, inputs


def build(kind, x, y):
    n = x.shape[1]
    if kind.endswith("_zipmap"):
        return build_zipmap(kind[: -len("_zipmap")], x, y)
    if kind == "mlp":
        m = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=SEED).fit(x, y)
        return teachers.export_sklearn(m, n)
    if kind == "rf":
        m = RandomForestClassifier(n_estimators=8, max_depth=5, random_state=SEED).fit(x, y)
        return teachers.export_sklearn(m, n)
    if kind == "gb":
        m = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=SEED).fit(x, y)
        return teachers.export_sklearn(m, n)
    if kind == "lgbm":
        import lightgbm

        m = lightgbm.LGBMClassifier(n_estimators=15, num_leaves=8, random_state=SEED, verbose=-1).fit(x, y)
        return teachers.export_lightgbm(m, n)
    if kind == "xgb":
        import xgboost

        labels = sorted(set(y))
        yi = np.array([labels.index(v) for v in y])
        m = xgboost.XGBClassifier(n_estimators=10, max_depth=3, random_state=SEED).fit(x, yi)
        return teachers.export_xgboost(m, n)
    raise ValueError(kind)


def build_zipmap(kind, x, y):
    n = x.shape[1]
    if kind == "mlp":
        m = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=SEED).fit(x, y)
        return teachers.export_sklearn(m, n, zipmap=True)
    if kind == "gb":
        m = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=SEED).fit(x, y)
        return teachers.export_sklearn(m, n, zipmap=True)
    if kind == "lgbm":
        import lightgbm

        m = lightgbm.LGBMClassifier(n_estimators=15, num_leaves=8, random_state=SEED, verbose=-1).fit(x, y)
        return teachers.export_lightgbm(m, n, zipmap=True)
    raise ValueError(kind)


def matrix_of(outputs, sess):
    """The probabilities as a matrix: the float [N, k] output, or the ZipMap's maps in the
    order of its class labels (the order of the tensor ZipMap received)."""
    for o in outputs:
        if isinstance(o, np.ndarray) and o.dtype == np.float32 and o.ndim == 2:
            return o
    maps = [o for o in outputs if isinstance(o, list)][0]
    keys = list(maps[0].keys())
    return np.array([[m[k] for k in keys] for m in maps], dtype=np.float32)


def main(shared, out, kinds):
    os.makedirs(out, exist_ok=True)
    for task in ("binary", "multiclass"):
        x, y, inputs = load(shared, task)
        rows = x[:64]
        # a few missing values so NaN routing is checked too
        rows = rows.copy()
        rows[3, 0] = np.nan
        rows[10, 1] = np.nan
        for kind in kinds:
            # neural nets propagate NaN, so only tree models get the missing values
            fixture_rows = np.nan_to_num(rows, nan=0.0) if kind.startswith("mlp") else rows
            model = teachers.attach_metadata(build(kind, x, y), inputs, {})
            path = os.path.join(out, f"{kind}_{task}.onnx")
            teachers.save_model(model, path)
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            outputs = sess.run(None, {sess.get_inputs()[0].name: fixture_rows})
            probs = matrix_of(outputs, sess)
            with open(os.path.join(out, f"{kind}_{task}.json"), "w") as f:
                json.dump({"onnxruntime": ort.__version__, "inputs": [[None if np.isnan(v) else float(v) for v in r] for r in fixture_rows],
                           "probabilities": probs.astype(float).tolist()}, f)
            ops = sorted({(n.domain, n.op_type) for n in model.graph.node})
            print(f"{path}: {os.path.getsize(path)} bytes, ops {ops}, outputs {[o.name for o in sess.get_outputs()]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:] or ["mlp", "rf", "gb", "lgbm", "xgb"])
