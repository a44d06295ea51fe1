"""The evaluation's capital-loss finding, and a fix to try: give the student the sparse
capital-gain / capital-loss columns also as categorical levels (text copies "v<value>"),
so it can learn the exact thresholds the LightGBM teacher uses. Runs the demo recipe on
the demo data with and without those extra columns and prints each student's line, its
largest slice gap and the weak slices.

Usage: python3 bench/capital_levels.py   (after `cargo build --release -p distillery`)
"""
import os
import subprocess

import pandas as pd

root = os.path.join(os.path.dirname(__file__), "..")
demo = os.path.join(root, "crates", "cli", "demo")
out = os.path.join(root, "bench", "out", "capital_levels")
os.makedirs(out, exist_ok=True)
exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "distillery")

for split in ("train", "test"):
    d = pd.read_csv(os.path.join(demo, f"{split}.csv.gz"), dtype=str, keep_default_na=False)
    d.to_csv(os.path.join(out, f"{split}.csv"), index=False)
    for c in ("capital-loss", "capital-gain"):
        d[c + "-level"] = "v" + d[c]
    d.to_csv(os.path.join(out, f"{split}_levels.csv"), index=False)

recipe = open(os.path.join(demo, "recipe.toml")).read()
recipe = recipe.replace('teacher.onnx"', os.path.abspath(os.path.join(demo, "teacher.onnx")).replace("\\", "/") + '"', 1)
for name, suffix in (("as in the demo", ""), ("with capital levels", "_levels")):
    r = recipe.replace("train.csv.gz", f"train{suffix}.csv").replace("test.csv.gz", f"test{suffix}.csv")
    path = os.path.join(out, f"recipe{suffix}.toml")
    open(path, "w").write(r)
    res = subprocess.run([exe, "run", path, "--quiet", "--no-register", "--out", os.path.join(out, "runs")],
                         capture_output=True, text=True)
    print(f"== {name}")
    for line in res.stdout.splitlines():
        if line.startswith(("model ", "teacher ", "student ", "largest slice gap", "weak slices")):
            print(line)
