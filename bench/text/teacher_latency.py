"""Median time for the transformer teacher (teacher.onnx from tools/text_teacher.py) to
classify one document on one core: tokenise + the whole ONNX graph, onnxruntime with one
intra-op thread, batch of one, over the first 100 test documents.

Usage: python bench/text/teacher_latency.py <folder from tools/text_teacher.py>
"""

import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort
import pandas as pd
from tokenizers import Tokenizer


def main():
    folder = sys.argv[1]
    tok = Tokenizer.from_file(f"{folder}/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(256)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(f"{folder}/teacher.onnx", options, providers=["CPUExecutionProvider"])
    docs = pd.read_csv(f"{folder}/test.csv", keep_default_na=False)["text"].head(100)
    times = []
    for doc in docs:
        t = time.perf_counter()
        e = tok.encode(doc)
        ids = np.array([e.ids], dtype=np.int64)
        session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})
        times.append(time.perf_counter() - t)
    print(json.dumps({"teacher_median_ms_per_doc_one_core": statistics.median(times) * 1e3}))


if __name__ == "__main__":
    main()
