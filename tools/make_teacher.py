"""Builds a gradient-boosted teacher for distillery from a CSV, and the train/test files it saw.

The teacher is a LightGBM classifier trained on the *train* file only, exported to ONNX with
onnxmltools (ZipMap off). Categorical columns are fed to it as integer codes whose levels are
stored inside the ONNX file (see tools/teachers.py), which is the convention distillery reads.

Usage:
  python3 tools/make_teacher.py --data ../shared/data/adult/adult.csv --target income-per-year \
      --out data/adult --trees 300 [--ignore a,b] [--partition col] [--test-fraction 0.2]

Writes OUT/train.csv.gz, OUT/test.csv.gz (gzip mtime 0, so bytes are reproducible) and
OUT/teacher.onnx, and prints the teacher's test accuracy as onnxruntime computes it.
"""
import argparse
import os

import lightgbm
import numpy as np
import onnxruntime as ort
from sklearn.model_selection import train_test_split

import teachers

SEED = 7


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--ignore", default="")
    ap.add_argument("--partition", default="", help="column whose 'train'/'test' values give the split")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--max-train-rows", type=int, default=0)
    args = ap.parse_args()

    frame = teachers.read_table(args.data)
    ignore = [c for c in args.ignore.split(",") if c]
    if args.partition:
        train = frame[frame[args.partition] == "train"]
        test = frame[frame[args.partition] == "test"]
        ignore.append(args.partition)
    else:
        train, test = train_test_split(frame, test_size=args.test_fraction, random_state=SEED,
                                       stratify=frame[args.target])
    if args.max_train_rows and len(train) > args.max_train_rows:
        train = train.sample(n=args.max_train_rows, random_state=SEED)
    train = train.drop(columns=[c for c in ignore if c in train.columns])
    test = test.drop(columns=[c for c in ignore if c in test.columns])
    inputs = [c for c in train.columns if c != args.target]
    levels = teachers.categorical_levels(train, inputs)
    x_train = teachers.encode_for_teacher(train, inputs, levels)
    x_test = teachers.encode_for_teacher(test, inputs, levels)
    y_train = train[args.target].astype(str).to_numpy()
    y_test = test[args.target].astype(str).to_numpy()

    model = lightgbm.LGBMClassifier(n_estimators=args.trees, num_leaves=args.leaves, learning_rate=0.05,
                                    random_state=SEED, n_jobs=2, verbose=-1)
    model.fit(x_train, y_train)
    onnx_model = teachers.attach_metadata(teachers.export_lightgbm(model, len(inputs)), inputs, levels)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "teacher.onnx")
    teachers.save_model(onnx_model, path)
    teachers.write_csv_gz(train, os.path.join(args.out, "train.csv.gz"))
    teachers.write_csv_gz(test, os.path.join(args.out, "test.csv.gz"))

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = sess.run(None, {"input": x_test})
    probs = [o for o in outs if o.dtype == np.float32 and o.ndim == 2][0]
    classes = sorted(set(y_train))
    acc = float(np.mean(np.array(classes)[probs.argmax(axis=1)] == y_test))
    print(f"{path}: {os.path.getsize(path)} bytes, {args.trees} boosting rounds, "
          f"{len(inputs)} inputs ({len(levels)} categorical), train {len(train)} rows, test {len(test)} rows, "
          f"onnxruntime test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
