"""Writes a one-row Open Inference Protocol request for the demo's Adult student: the first
complete row of a test file (CSV or CSV.gz), numbers as FP32 and categories as BYTES, the
target left out. Used by bench/serve.sh and scripts/rolling_replace.sh.

Usage: oip_body.py TEST_FILE OUT_JSON [TARGET]       (default target: income-per-year)
"""
import csv
import gzip
import json
import sys

path, out = sys.argv[1], sys.argv[2]
target = sys.argv[3] if len(sys.argv) > 3 else "income-per-year"
opened = gzip.open(path, "rt") if path.endswith(".gz") else open(path)
row = next(r for r in csv.DictReader(opened) if "?" not in r.values())
inputs = []
for name, value in row.items():
    if name == target:
        continue
    try:
        inputs.append({"name": name, "shape": [1, 1], "datatype": "FP32", "data": [float(value)]})
    except ValueError:
        inputs.append({"name": name, "shape": [1, 1], "datatype": "BYTES", "data": [value]})
with open(out, "w") as fh:
    json.dump({"id": "bench", "inputs": inputs}, fh)
