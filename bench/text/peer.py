"""The fastText-style peer on the same split as distillery's text student: scikit-learn's
HashingVectorizer (word 1–2-grams, the same 16,384 slots as the student and a roomier 262,144) + logistic
regression, trained on the hard labels. Prints accuracy and the median time to classify
one document (vectorise + predict, one thread), as JSON.

Usage: python bench/text/peer.py <folder with train.csv and test.csv from tools/text_teacher.py>
"""

import json
import statistics
import sys
import time

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression


def main():
    folder = sys.argv[1]
    train = pd.read_csv(f"{folder}/train.csv", keep_default_na=False)
    test = pd.read_csv(f"{folder}/test.csv", keep_default_na=False)
    label = [c for c in train.columns if c not in ("text",) and not c.startswith("teacher_p_")][0]
    out = {}
    for features in (16384, 262144):
        vec = HashingVectorizer(n_features=features, ngram_range=(1, 2), alternate_sign=False, norm="l2")
        model = LogisticRegression(max_iter=2000, C=10.0)
        model.fit(vec.transform(train["text"]), train[label])
        accuracy = float((model.predict(vec.transform(test["text"])) == test[label]).mean())
        times = []
        for doc in test["text"].head(300):
            t = time.perf_counter()
            model.predict(vec.transform([doc]))
            times.append(time.perf_counter() - t)
        out[f"hashing_{features}_logreg"] = {
            "accuracy": accuracy,
            "median_us_per_doc": statistics.median(times) * 1e6,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
