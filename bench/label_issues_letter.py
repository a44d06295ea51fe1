"""Label-error recovery on the whole of UCI Letter (20,000 rows, 26 classes): 5% of the
labels flipped at random (seed 11), out-of-fold probabilities from a 5-fold
HistGradientBoostingClassifier, then cleanlab 2.x's find_label_issues and distillery's on
the same probabilities. Prints recall and precision of each against the flipped rows and
the Jaccard overlap of the two flagged sets.

Usage: python3 bench/label_issues_letter.py <path-to-shared-data>
"""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_predict

root = os.path.join(os.path.dirname(__file__), "..")
out = os.path.join(root, "bench", "out")
os.makedirs(out, exist_ok=True)
df = pd.read_csv(os.path.join(sys.argv[1], "letter", "letter.csv"))
rng = np.random.default_rng(11)
classes = sorted(df.lettr.unique())
y = df.lettr.map({c: i for i, c in enumerate(classes)}).to_numpy()
x = df.drop(columns=["lettr"]).to_numpy(float)
k = len(classes)
flipped = rng.choice(len(y), len(y) // 20, replace=False)
y_noisy = y.copy()
y_noisy[flipped] = (y_noisy[flipped] + rng.integers(1, k, len(flipped))) % k
p = cross_val_predict(HistGradientBoostingClassifier(max_iter=200, random_state=0), x, y_noisy, cv=5,
                      method="predict_proba").astype(np.float32)
p.astype("<f4").tofile(os.path.join(out, "letter_probs.f32"))
y_noisy.astype("<u4").tofile(os.path.join(out, "letter_labels.u32"))
theirs = set(np.flatnonzero(find_label_issues(y_noisy, p.astype(np.float64), n_jobs=1)))

subprocess.run(["cargo", "build", "--release", "-q", "-p", "distillery-quality", "--example", "label_issues"], cwd=root, check=True)
exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "examples", "label_issues")
res = subprocess.run([exe, os.path.join(out, "letter_probs.f32"), os.path.join(out, "letter_labels.u32"), str(k), "--rows"],
                     capture_output=True, text=True, check=True)
ours = set(int(r) for r in res.stdout.split()[2:])
truth = set(flipped.tolist())
for name, s in (("cleanlab", theirs), ("distillery", ours)):
    hit = len(s & truth)
    print(f"{name}: {len(s)} flagged, recall {hit / len(truth):.3f}, precision {hit / max(len(s), 1):.3f}")
print(f"Jaccard {len(ours & theirs) / len(ours | theirs):.4f}")
