"""Writes tests/data/datasets/<name>.csv: 800 rows (seed 5, in file order) of every dataset
in the shared data folder, so a test can show that each runs through `distillery init` and
the default data checks on a fresh clone. Cells are copied as text, unchanged. For
spam_assassin the `raw` column (whole RFC 822 messages) is left out and 300 rows are kept.

Usage: python3 tools/make_dataset_samples.py <shared data folder>
"""
import csv
import gzip
import io
import os
import random
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "tests", "data", "datasets")

# name -> (file inside the shared folder, rows kept, columns dropped)
DATASETS = {
    "mlc_churn": ("mlc_churn/mlc_churn.csv", 800, []),
    "credit_data": ("credit_data/credit_data.csv", 800, []),
    "phishing": ("phishing/phishing.csv", 800, []),
    "adult": ("adult/adult.csv", 800, []),
    "magic": ("magic/magic.csv", 800, []),
    "letter": ("letter/letter.csv", 800, []),
    "census_kdd": ("census_kdd/census_kdd.csv.gz", 800, []),
    "rainfall": ("rainfall/rainfall.csv", 800, []),
    "car_loan_drift": ("car_loan_drift/car_loan_drift.csv", 800, []),
    "spam_assassin": ("spam_assassin/spam_assassin.csv.gz", 100, ["raw"]),
}


def rows_of(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def main(shared):
    csv.field_size_limit(sys.maxsize)
    os.makedirs(OUT, exist_ok=True)
    for name, (file, n, drop) in DATASETS.items():
        rows = rows_of(os.path.join(shared, file))
        header, body = rows[0], rows[1:]
        keep = sorted(random.Random(5).sample(range(len(body)), n))
        cols = [i for i, h in enumerate(header) if h not in drop]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([header[i] for i in cols])
        for r in keep:
            w.writerow([body[r][i] for i in cols])
        with open(os.path.join(OUT, f"{name}.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
        print(f"{name}: {n} of {len(body)} rows")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data"))
