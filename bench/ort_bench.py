"""The same student in onnxruntime: single-row latency and batch-1024 throughput.

Feeds the exported model (student.onnx or student.int8.onnx: one [N, 1] input per feature)
with rows of a CSV, the way a Python service would: `InferenceSession.run` per row, and one
call per 1,024-row batch. Prints one JSON object. `distillery bench` runs this script.

Usage: python3 bench/ort_bench.py --model student.onnx --data rows.csv [--threads 1]
"""
import argparse
import json
import resource
import time

import numpy as np
import onnxruntime as ort
import pandas as pd


def feeds_for(sess, frame):
    out = {}
    for i in sess.get_inputs():
        col = frame[i.name]
        if i.type == "tensor(string)":
            out[i.name] = np.array([["" if pd.isna(v) else str(v)] for v in col], dtype=object)
        else:
            out[i.name] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float32).reshape(-1, 1)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--missing", default="?,NA,N/A,NaN,nan,null")
    args = ap.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    frame = pd.read_csv(args.data, na_values=args.missing.split(","), keep_default_na=False, dtype=str)
    frame = frame.head(1024)
    while len(frame) < 1024:
        frame = pd.concat([frame, frame]).head(1024)
    batch = feeds_for(sess, frame)
    singles = [{k: v[i:i + 1] for k, v in batch.items()} for i in range(256)]
    for f in singles:
        sess.run(["probabilities"], f)
    times = []
    for rep in range(20):
        for f in singles:
            t = time.perf_counter_ns()
            sess.run(["probabilities"], f)
            times.append((time.perf_counter_ns() - t) / 1e3)
    sess.run(["probabilities"], batch)
    batch_times = []
    for rep in range(30):
        t = time.perf_counter()
        sess.run(["probabilities"], batch)
        batch_times.append(time.perf_counter() - t)
    print(json.dumps({
        "engine": f"onnxruntime {ort.__version__} (Python, {args.threads} thread)",
        "single_median_us": float(np.median(times)),
        "single_p99_us": float(np.percentile(times, 99)),
        "batch1024_rows_per_s": 1024 / float(np.median(batch_times)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
