"""Batch scoring, whole process: `distillery predict` vs pandas + onnxruntime.

Builds a 200,000-row CSV from a test file (repeating its rows), then times, as separate
processes, (a) `distillery predict --model student.safetensors` and (b) a Python script
that reads the CSV with pandas, runs the exported student.onnx in onnxruntime (1 thread)
and writes the probabilities with pandas. Both write every input column plus one column
per class. Prints the wall times (best of 3) and their ratio.

Usage: python3 bench/predict_vs_pandas.py --run runs/<id> --data test.csv[.gz] [--rows 200000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import pandas as pd

SCRIPT = r'''
import sys, numpy as np, pandas as pd, onnxruntime as ort
model, data, out = sys.argv[1:4]
# An optional 4th argument reads the CSV in chunks of that many rows (for files that do
# not fit in memory at once), each scored and appended to the output.
chunk = int(sys.argv[4]) if len(sys.argv) > 4 else None
o = ort.SessionOptions(); o.intra_op_num_threads = 1
sess = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
frames = pd.read_csv(data, na_values=["?"], keep_default_na=False, chunksize=chunk)
for n, frame in enumerate([frames] if chunk is None else frames):
    feeds = {}
    for i in sess.get_inputs():
        col = frame[i.name]
        if i.type == "tensor(string)":
            feeds[i.name] = col.fillna("").astype(str).to_numpy(dtype=object).reshape(-1, 1)
        else:
            feeds[i.name] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float32).reshape(-1, 1)
    p = sess.run(["probabilities"], feeds)[0]
    for j in range(p.shape[1]):
        frame[f"prob_{j}"] = p[:, j]
    frame.to_csv(out, index=False, float_format="%.6f", mode="a" if n else "w", header=n == 0)
'''


def best_of(n, cmd):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--binary", default="target/release/distillery")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    frame = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    frame = pd.concat([frame] * (args.rows // len(frame) + 1)).head(args.rows)
    data = os.path.join(tmp, "rows.csv")
    frame.to_csv(data, index=False)
    script = os.path.join(tmp, "score.py")
    with open(script, "w") as f:
        f.write(SCRIPT)
    ours = best_of(3, [args.binary, "predict", "--model", os.path.join(args.run, "student.safetensors"),
                       "--input", data, "--output", os.path.join(tmp, "a.csv")])
    peer = best_of(3, [sys.executable, script, os.path.join(args.run, "student.onnx"), data, os.path.join(tmp, "b.csv")])
    print(f"{args.rows} rows, {len(frame.columns)} columns")
    print(f"distillery predict        {ours:7.2f} s")
    print(f"pandas + onnxruntime      {peer:7.2f} s")
    print(f"speed-up {peer / ours:.1f}×")
    print(json.dumps({"rows": args.rows, "distillery_s": ours, "pandas_onnxruntime_s": peer}))


if __name__ == "__main__":
    main()
