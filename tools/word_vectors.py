"""Static word vectors from a transformer teacher, for `[student.text] vectors`.

Each word of the training texts (tokens as distillery splits them: lowercased runs of
letters and digits), up to the --words most frequent, is run through the teacher's own
encoder ALONE, as Model2Vec (Tulkens & van Dongen 2024) does with a tokenizer's vocabulary:
the sentence embedding of the one-word text (mean-pooled and L2-normalised inside the
teacher graph that tools/text_teacher.py writes, output ``t_embedding``) becomes the word's
vector. A principal-component projection keeps --dims dimensions. The result is a `.vec`
file (fastText / word2vec text format: a ``count dim`` header, then ``word v1 … vN`` per
line) that the student averages over a text's words, beside its hashed n-grams.

Usage:
  python tools/word_vectors.py --teacher teacher.onnx --tokenizer tokenizer.json \
      --data train.csv --text text --out words.vec [--dims 256] [--words 20000]
"""

import argparse
import collections
import re
import time

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from onnx import TensorProto, helper
from tokenizers import Tokenizer

from text_teacher import padded

# distillery's tokens: maximal runs of alphanumeric characters, lowercased.
TOKEN = re.compile(r"[^\W_]+")


def tokens(text):
    return [t.lower() for t in TOKEN.findall(text)]


def encoder_session(teacher):
    """The teacher graph with its pooled, normalised embedding exposed as an output."""
    model = onnx.load(teacher)
    names = {n for node in model.graph.node for n in node.output}
    if "t_embedding" not in names:
        raise SystemExit(f"{teacher} has no t_embedding tensor: build it with tools/text_teacher.py")
    model.graph.output.append(helper.make_tensor_value_info("t_embedding", TensorProto.FLOAT, ["batch", None]))
    options = ort.SessionOptions()
    return ort.InferenceSession(model.SerializeToString(), options)


def embed(session, tok, words, batch=256):
    out = []
    for start in range(0, len(words), batch):
        feed = padded(tok.encode_batch(words[start:start + batch]))
        out.append(session.run(["t_embedding"], feed)[0])
    return np.concatenate(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--data", required=True, help="CSV (or .csv.gz) with the training texts")
    ap.add_argument("--text", required=True, help="text column(s), comma-separated")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--words", type=int, default=20000)
    args = ap.parse_args()

    frame = pd.read_csv(args.data, keep_default_na=False, dtype=str)
    df = collections.Counter()
    for column in args.text.split(","):
        for text in frame[column]:
            df.update(set(tokens(text)))
    words = [w for w, _ in sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[: args.words]]
    tok = Tokenizer.from_file(args.tokenizer)
    tok.no_padding()
    tok.enable_truncation(32)
    start = time.perf_counter()
    vectors = embed(encoder_session(args.teacher), tok, words)
    seconds = time.perf_counter() - start
    dims = min(args.dims, vectors.shape[1])
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ components[:dims].T
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(f"{len(words)} {dims}\n")
        for w, v in zip(words, projected):
            f.write(w + " " + " ".join(f"{x:.5g}" for x in v) + "\n")
    print(f"{len(words)} words × {dims} dims in {seconds:.1f} s ({len(words) / seconds:.0f} words/s) → {args.out}")


if __name__ == "__main__":
    main()
