"""Shared helpers for building ONNX teachers that distillery can read.

distillery feeds an ONNX teacher one float32 tensor [N, len(inputs)]. Numeric
columns go in as they are (missing -> NaN). Categorical columns go in as integer
codes: the index of the value in a list of levels that travels *inside* the ONNX
file (metadata_props key ``distillery.categories``: JSON {column: [levels]}), so
the codes can never drift from what the teacher was trained on. The input column
order is stored under ``distillery.inputs`` (JSON list).
"""
import gzip
import json
import os

import numpy as np
import onnx
import pandas as pd


def read_table(path, missing=("?", "")):
    """Read a CSV (optionally gzip) with the same missing-value tokens distillery uses."""
    return pd.read_csv(path, na_values=list(missing), keep_default_na=False, skipinitialspace=False)


def encode_for_teacher(frame, inputs, levels):
    """Float32 matrix for the teacher: numerics as is, categoricals as codes (unseen -> NaN)."""
    cols = []
    for name in inputs:
        col = frame[name]
        if name in levels:
            index = {v: i for i, v in enumerate(levels[name])}
            cols.append(np.array([index.get(v, np.nan) if isinstance(v, str) else np.nan for v in col], dtype=np.float64))
        else:
            cols.append(pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64))
    return np.stack(cols, axis=1).astype(np.float32)


def categorical_levels(frame, inputs):
    """Sorted levels of every non-numeric input column."""
    levels = {}
    for name in inputs:
        col = frame[name]
        if not pd.api.types.is_numeric_dtype(col):
            levels[name] = sorted({v for v in col if isinstance(v, str)})
    return levels


def attach_metadata(model, inputs, levels):
    """Store the input order and category codes inside the ONNX model."""
    for key, value in (("distillery.inputs", inputs), ("distillery.categories", levels)):
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = json.dumps(value)
    return model


def save_model(model, path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    onnx.checker.check_model(model)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def write_csv_gz(frame, path):
    """Gzip with mtime=0 so the bytes are reproducible."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    data = frame.to_csv(index=False, na_rep="?").encode()
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            f.write(data)


def export_lightgbm(model, n_features, zipmap=False):
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    return convert_lightgbm(model, initial_types=[("input", FloatTensorType([None, n_features]))],
                            zipmap=zipmap, target_opset=15)


def export_sklearn(model, n_features, zipmap=False):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    options = {} if zipmap else {id(model): {"zipmap": False}}
    return convert_sklearn(model, initial_types=[("input", FloatTensorType([None, n_features]))],
                           options=options, target_opset={"": 15, "ai.onnx.ml": 3})


def export_xgboost(model, n_features):
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    return convert_xgboost(model, initial_types=[("input", FloatTensorType([None, n_features]))],
                           target_opset=15)
