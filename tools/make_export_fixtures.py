"""Builds the ONNX-export fixtures under tests/data/export/.

1. distils a small student from tests/data/export/recipe.toml with the distillery binary,
2. exports it to ONNX with `distillery export`, and quantizes it with `distillery quantize`
   (calibrated on tests/data/adult_sample.csv) into an int8 student and its QDQ ONNX model,
3. runs onnxruntime on 200 rows of tests/data/adult_sample.csv plus rows with missing and
   unseen values, and stores the inputs and onnxruntime's probabilities.

The Rust tests then check that (a) exporting the committed student gives the committed ONNX
bytes, (b) the native runtime matches onnxruntime within 1e-5 (fp32) and 1e-3 (int8),
(c) tract matches too.

Usage: python3 tools/make_export_fixtures.py
"""
import glob
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "data", "export")


def distillery(*args):
    subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "distillery", "--", *args], check=True, cwd=ROOT)


def run_onnx(path, frame, columns, kinds, optimize=True):
    options = ort.SessionOptions()
    if not optimize:
        # the QDQ graph evaluated node by node, exactly as the ONNX spec defines it
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feeds = {}
    for c in columns:
        if kinds[c] == "string":
            feeds[c] = np.array([["" if pd.isna(v) else str(v)] for v in frame[c]], dtype=object)
        else:
            feeds[c] = frame[[c]].to_numpy(dtype=np.float32)
    return sess.run(["probabilities"], feeds)[0]


def main():
    runs = tempfile.mkdtemp()
    distillery("run", os.path.join(OUT, "recipe.toml"), "--out", runs, "--quiet")
    run_dir = glob.glob(os.path.join(runs, "export-fixture-*"))[0]
    shutil.copy(os.path.join(run_dir, "student.safetensors"), os.path.join(OUT, "student.safetensors"))
    distillery("export", "--model", os.path.join(OUT, "student.safetensors"), "--output", os.path.join(OUT, "student.onnx"))
    distillery("quantize", "--model", os.path.join(OUT, "student.safetensors"),
               "--calibration", os.path.join(ROOT, "tests", "data", "adult_sample.csv"),
               "--output", os.path.join(OUT, "student.int8.safetensors"), "--onnx", os.path.join(OUT, "student.int8.onnx"))
    onnx.checker.check_model(onnx.load(os.path.join(OUT, "student.int8.onnx")), full_check=True)
    model = onnx.load(os.path.join(OUT, "student.onnx"))
    onnx.checker.check_model(model, full_check=True)
    kinds = {i.name: ("string" if i.type.tensor_type.elem_type == onnx.TensorProto.STRING else "float") for i in model.graph.input}
    columns = [i.name for i in model.graph.input]

    frame = pd.read_csv(os.path.join(ROOT, "tests", "data", "adult_sample.csv"), na_values=["?"], keep_default_na=False).head(200)
    frame = frame[columns].copy()
    # rows with missing numbers, missing categories and unseen categories
    extra = frame.head(6).copy()
    extra.loc[extra.index[0], "age"] = np.nan
    extra.loc[extra.index[1], "workclass"] = np.nan
    extra.loc[extra.index[2], "native-country"] = "Atlantis"
    extra.loc[extra.index[3], "capital-gain"] = np.nan
    extra.loc[extra.index[4], "occupation"] = np.nan
    extra.loc[extra.index[5], "education"] = "Hogwarts"
    frame = pd.concat([frame, extra], ignore_index=True)
    probs = run_onnx(os.path.join(OUT, "student.onnx"), frame, columns, kinds)
    probs_int8 = run_onnx(os.path.join(OUT, "student.int8.onnx"), frame, columns, kinds)
    probs_int8_ref = run_onnx(os.path.join(OUT, "student.int8.onnx"), frame, columns, kinds, optimize=False)
    rows = [[(None if pd.isna(v) else (str(v) if kinds[c] == "string" else float(v))) for c, v in zip(columns, r)]
            for r in frame.itertuples(index=False)]
    with open(os.path.join(OUT, "onnxruntime.json"), "w") as f:
        json.dump({"onnxruntime": ort.__version__, "columns": columns, "kinds": [kinds[c] for c in columns],
                   "rows": rows, "probabilities": probs.astype(float).tolist(),
                   "probabilities_int8": probs_int8.astype(float).tolist(),
                   "probabilities_int8_reference": probs_int8_ref.astype(float).tolist()}, f)
    print(f"wrote {len(rows)} fixture rows; onnxruntime {ort.__version__}")


if __name__ == "__main__":
    main()
