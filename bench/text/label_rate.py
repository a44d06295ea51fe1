"""How fast onnxruntime labels texts with a transformer teacher, at its best: the peer of the
Rust teacher's labelling rate (the transfer-set cost).

Labels every text of train.csv and test.csv in a folder from tools/text_teacher.py
(teacher.onnx + tokenizer.json): the tokenizers package, the whole ONNX graph, batches of
32 padded to their longest, onnxruntime with as many intra-op threads as cores. Two orders:
the file's and sorted by token count (less padding: how the Rust teacher and
tools/text_teacher.py batch). Prints docs/s for each, tokenising included (as in the Rust
teacher's rate, which `distillery run` reports beside the teacher), and the token count.

Usage: python bench/text/label_rate.py <folder> [--batch 32]
"""

import argparse
import json
import os
import sys
import time

import onnxruntime as ort
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from text_teacher import padded, tokenizer  # noqa: E402


def rate(session, encodings, order, batch, tokenise_seconds):
    """Docs/s over the whole job: tokenising (timed once, for all) plus the batched graph."""
    started = time.perf_counter()
    for start in range(0, len(order), batch):
        session.run(None, padded([encodings[i] for i in order[start:start + batch]]))
    return len(order) / (time.perf_counter() - started + tokenise_seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    texts = pd.concat([pd.read_csv(f"{args.folder}/{f}", keep_default_na=False)["text"]
                       for f in ("train.csv", "test.csv")]).tolist()
    tok = tokenizer(f"{args.folder}/tokenizer.json")
    started = time.perf_counter()
    encodings = tok.encode_batch(texts)
    tokenise = time.perf_counter() - started
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(f"{args.folder}/teacher.onnx", options, providers=["CPUExecutionProvider"])
    file_order = list(range(len(texts)))
    by_length = sorted(file_order, key=lambda i: len(encodings[i].ids))
    rate(session, encodings, file_order[: args.batch], args.batch, 0.0)  # warm-up
    print(json.dumps({
        "docs": len(texts),
        "tokens": sum(len(e.ids) for e in encodings),
        "threads": options.intra_op_num_threads,
        "tokenise_seconds": round(tokenise, 2),
        "onnxruntime_docs_per_s_file_order": round(rate(session, encodings, file_order, args.batch, tokenise), 1),
        "onnxruntime_docs_per_s_sorted_by_length": round(rate(session, encodings, by_length, args.batch, tokenise), 1),
    }))


if __name__ == "__main__":
    main()
