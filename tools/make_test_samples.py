"""Writes the small real samples under tests/data/ used by the end-to-end tests.

- adult_sample.csv: 1,200 rows drawn (seed 3) from the demo's held-out Adult test file
  (crates/cli/demo/test.csv.gz, UCI Adult via the PyPI package `fairness` 0.1.8).
- adult_sample.parquet: the same rows as Parquet (pyarrow), missing cells as nulls.
- adult_soft.csv: the same rows plus the demo teacher's probabilities from onnxruntime as
  soft-label columns `teacher_p_<class>`, for the precomputed-soft-labels teacher.

Usage: python3 tools/make_test_samples.py
"""
import os
import sys

import numpy as np
import onnxruntime as ort
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import onnx
import json

sys.path.insert(0, os.path.dirname(__file__))
import teachers  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
DEMO = os.path.join(ROOT, "crates", "cli", "demo")
OUT = os.path.join(ROOT, "tests", "data")


def main():
    raw = pd.read_csv(os.path.join(DEMO, "test.csv.gz"), keep_default_na=False, dtype=str)
    sample = raw.sample(n=1200, random_state=3)
    sample.to_csv(os.path.join(OUT, "adult_sample.csv"), index=False)
    typed = pd.read_csv(os.path.join(OUT, "adult_sample.csv"), na_values=["?"], keep_default_na=False)
    pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), os.path.join(OUT, "adult_sample.parquet"))

    model = onnx.load(os.path.join(DEMO, "teacher.onnx"))
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    x = teachers.encode_for_teacher(typed, meta["distillery.inputs"], meta["distillery.categories"])
    sess = ort.InferenceSession(os.path.join(DEMO, "teacher.onnx"), providers=["CPUExecutionProvider"])
    probs = [o for o in sess.run(None, {"input": x}) if o.dtype == np.float32 and o.ndim == 2][0]
    soft = sample.copy()
    for j, c in enumerate(sorted(typed["income-per-year"].unique())):
        soft[f"teacher_p_{c}"] = [f"{p:.7f}" for p in probs[:, j]]
    soft.to_csv(os.path.join(OUT, "adult_soft.csv"), index=False)
    print(f"wrote {len(sample)} rows: adult_sample.csv, adult_sample.parquet, adult_soft.csv")


if __name__ == "__main__":
    main()
