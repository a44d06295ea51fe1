"""distillery's defaults side by side with AutoGluon's TabularPredictor.distill() (the
FAST-DAD method) on the same splits: test accuracy, single-row latency, size and wall time.

For each set: a seeded, stratified 80/20 split is written as train.csv / test.csv. Then:
- AutoGluon: TabularPredictor(label).fit(train, time_limit=FIT) then
  .distill(time_limit=DISTIL) with its defaults (soft teacher predictions, "spunge"
  augmentation). Every distilled student is scored on the test file; its single-row latency
  is the median of 200 `predict(one_row_frame, model=student)` calls (what a service built
  on the predictor pays per request), its size the disk usage of its model folder and of
  every model it needs (an ensemble student loads its base models).
- distillery: `init train.csv` (the in-house GBDT teacher, the student search) with
  `test = "test.csv"` added, then `run`; the report's student accuracy, latency (one raw
  row through the native runtime) and bytes.

Usage: python bench/autogluon_distill.py <shared-data-dir> <distillery-binary>
           [--distillery-only] [--seeds 7] [sets...]
(--distillery-only reruns our side alone on the same seeded splits, for when only distillery
changed. --seeds 1,2,3,4,5 repeats everything on that many different splits, each seed both
the split's and distillery's, and ends with the mean per set and tool and how many seeds
each tool's student won: one split of a small set is a few test rows from a tie.)
Needs a venv with `autogluon.tabular[lightgbm]==1.6.3` (CPU only; no torch: AutoGluon skips
its neural-network students without it).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import pandas as pd
from sklearn.model_selection import train_test_split

TARGETS = {"phishing": "is_phishing", "credit_data": "Status", "mlc_churn": "churn",
           "magic": "class", "adult": "income-per-year", "letter": "lettr"}
FIT, DISTIL = 120, 120


def folder_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def autogluon(train, test, target, work):
    from autogluon.tabular import TabularPredictor

    start = time.perf_counter()
    predictor = TabularPredictor(label=target, path=os.path.join(work, "ag"), verbosity=0).fit(
        train, time_limit=FIT)
    students = predictor.distill(time_limit=DISTIL)
    wall = time.perf_counter() - start
    y = test[target].astype(str).to_numpy()
    row = test.drop(columns=[target]).head(1)
    best = None
    for name in students:
        acc = float((predictor.predict(test, model=name).astype(str).to_numpy() == y).mean())
        times = []
        for _ in range(200):
            t = time.perf_counter()
            predictor.predict(row, model=name)
            times.append(time.perf_counter() - t)
        # An ensemble student needs its base models too: count every model it loads.
        needed = predictor._trainer.get_minimum_model_set(name)
        size = sum(folder_bytes(os.path.join(predictor.path, "models", m)) for m in needed)
        result = (acc, name, statistics.median(times) * 1e6, size)
        if best is None or result > best:
            best = result
    teacher = float((predictor.predict(test).astype(str).to_numpy() == y).mean())
    return {"teacher": teacher, "student": best[0], "model": best[1], "latency_us": best[2],
            "bytes": best[3], "seconds": wall}


def distillery(binary, work, target, seed):
    start = time.perf_counter()
    subprocess.run([binary, "-q", "init", "train.csv", "--target", target, "--output", "r.toml"],
                   cwd=work, check=True, stdout=subprocess.DEVNULL)
    recipe = open(os.path.join(work, "r.toml")).read().replace(
        'train = "train.csv"', 'train = "train.csv"\ntest = "test.csv"', 1)
    recipe = set_seed(recipe, seed)
    open(os.path.join(work, "r.toml"), "w").write(recipe)
    out = subprocess.run([binary, "-q", "run", "r.toml", "--out", "runs", "--no-register", "--json"],
                         cwd=work, check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return {"teacher": r["teacher"]["accuracy"], "student": r["student"]["accuracy"],
            "latency_us": r["student"]["latency_us"], "bytes": r["student"]["bytes"],
            "seconds": time.perf_counter() - start}


def set_seed(recipe, seed):
    """The recipe with `seed = N` in place of the seed line init writes under [distill]."""
    lines = recipe.splitlines()
    for i, line in enumerate(lines):
        if line.split("=")[0].strip() == "seed":
            lines[i] = f"seed = {seed}"
            return "\n".join(lines) + "\n"
    sys.exit("init's recipe has no seed line to change")


def main(shared, binary, sets, seeds, ours_only=False):
    binary = os.path.abspath(binary)
    print(f"{'set':<12} {'seed':>4} {'tool':<10} {'teacher':>8} {'student':>8} {'latency_us':>11} {'bytes':>11} {'seconds':>8}  student model")
    scores = {}
    for name in sets:
        frame = pd.read_csv(os.path.join(shared, name, f"{name}.csv"), keep_default_na=False,
                            na_values=["", "?"])
        target = TARGETS[name]
        frame[target] = frame[target].astype(str)
        for seed in seeds:
            train, test = train_test_split(frame, test_size=0.2, random_state=seed,
                                           stratify=frame[target])
            work = tempfile.mkdtemp()
            try:
                train.to_csv(os.path.join(work, "train.csv"), index=False)
                test.to_csv(os.path.join(work, "test.csv"), index=False)
                d = distillery(binary, work, target, seed)
                scores.setdefault((name, "distillery"), []).append(d["student"])
                print(f"{name:<12} {seed:>4} {'distillery':<10} {d['teacher']:8.4f} {d['student']:8.4f} {d['latency_us']:11.2f} {d['bytes']:11d} {d['seconds']:8.1f}  MLP", flush=True)
                if ours_only:
                    continue
                a = autogluon(train, test, target, work)
                scores.setdefault((name, "autogluon"), []).append(a["student"])
                print(f"{name:<12} {seed:>4} {'autogluon':<10} {a['teacher']:8.4f} {a['student']:8.4f} {a['latency_us']:11.0f} {a['bytes']:11d} {a['seconds']:8.1f}  {a['model']}", flush=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    if len(seeds) > 1 and not ours_only:
        print("\nmean student accuracy over seeds " + ",".join(map(str, seeds)))
        for name in sets:
            ours, theirs = scores[(name, "distillery")], scores[(name, "autogluon")]
            wins = sum(o > t for o, t in zip(ours, theirs))
            ties = sum(o == t for o, t in zip(ours, theirs))
            print(f"{name:<12} distillery {statistics.mean(ours):.4f}  autogluon {statistics.mean(theirs):.4f}"
                  f"  distillery ahead on {wins} of {len(ours)} seeds ({ties} tied)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shared")
    ap.add_argument("binary")
    ap.add_argument("sets", nargs="*")
    ap.add_argument("--distillery-only", action="store_true")
    ap.add_argument("--seeds", default="7", help="comma-separated split seeds (default 7)")
    args = ap.parse_intermixed_args()
    main(args.shared, args.binary, args.sets or ["phishing", "credit_data", "mlc_churn", "magic"],
         [int(s) for s in args.seeds.split(",")], ours_only=args.distillery_only)
