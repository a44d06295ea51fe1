"""Label-error detection speed: distillery's confident learning vs cleanlab 2.x's
find_label_issues on the same seeded 1,000,000 × 10 probabilities (single process each;
cleanlab with n_jobs=1 and with its default parallelism). Prints both times and the ratio.

Usage: python3 bench/label_issues.py [rows] [classes]
"""
import os
import subprocess
import sys
import time

import numpy as np
from cleanlab.filter import find_label_issues

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
k = int(sys.argv[2]) if len(sys.argv) > 2 else 10
root = os.path.join(os.path.dirname(__file__), "..")
out = os.path.join(root, "bench", "out")
os.makedirs(out, exist_ok=True)

rng = np.random.default_rng(7)
y_true = rng.integers(0, k, n)
logits = rng.normal(size=(n, k)) + 3.0 * np.eye(k)[y_true]
p = np.exp(logits - logits.max(axis=1, keepdims=True))
p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
y = y_true.copy()
flip = rng.choice(n, n // 20, replace=False)
y[flip] = (y[flip] + rng.integers(1, k, len(flip))) % k
p.astype("<f4").tofile(os.path.join(out, "li_probs.f32"))
y.astype("<u4").tofile(os.path.join(out, "li_labels.u32"))

p64 = p.astype(np.float64)
times = {}
for jobs in (1, None):
    t = time.perf_counter()
    mask = find_label_issues(y, p64, n_jobs=jobs)
    times[jobs] = time.perf_counter() - t
    print(f"cleanlab {jobs or 'default'} job(s): {times[jobs]:.2f} s, {mask.sum()} rows")

subprocess.run(["cargo", "build", "--release", "-q", "-p", "distillery-quality", "--example", "label_issues"], cwd=root, check=True)
exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "examples", "label_issues")
res = subprocess.run([exe, os.path.join(out, "li_probs.f32"), os.path.join(out, "li_labels.u32"), str(k)], capture_output=True, text=True, check=True)
secs, rows = res.stdout.split()
secs = float(secs)
print(f"distillery: {secs:.2f} s, {rows} rows")
print(f"distillery takes {secs / times[1]:.3f}× cleanlab's single-process time, {secs / times[None]:.3f}× its default")
import cleanlab  # noqa: E402
import json  # noqa: E402
print(json.dumps({"distillery_s": secs, "cleanlab_single_s": times[1], "cleanlab_default_s": times[None],
                  "distillery_rows": int(rows), "cleanlab_rows": int(mask.sum()), "cleanlab": cleanlab.__version__}))
