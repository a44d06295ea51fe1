"""Training speed: distillery vs PyTorch on the same KD job, same machine, same run.

Both train the same 54→64→7 MLP student (ReLU) with the same loss
(soft_weight·T²·KL(q_T‖s_T) + (1−soft_weight)·CE), AdamW (lr 3e-3, weight decay 1e-2),
a per-step cosine schedule to 0, batch 256, 10 epochs, seeded shuffles, and the same number
of threads, on the same standardized data: 120k rows of scikit-learn's `make_classification`
(54 features, 7 classes; 100k train / 20k test), with soft labels from a
HistGradientBoosting teacher. Reports the median epoch time of each, their ratio, and test
accuracy of each.

Usage: python3 bench/train_speed.py [--threads 2] [--epochs 10]
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out", "train_speed")
HIDDEN, BATCH, LR, WD, T, SW = 64, 256, 3e-3, 1e-2, 4.0, 0.7


def make_data():
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    os.makedirs(OUT, exist_ok=True)
    x, y = make_classification(n_samples=120_000, n_features=54, n_informative=30, n_redundant=10, n_classes=7,
                               n_clusters_per_class=2, class_sep=1.0, random_state=7)
    x = x.astype(np.float32)
    xtr, xte, ytr, yte = x[:100_000], x[100_000:], y[:100_000], y[100_000:]
    mean, std = xtr.mean(0), xtr.std(0)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    teacher = HistGradientBoostingClassifier(max_iter=200, random_state=7).fit(xtr, ytr)
    ptr, pte = teacher.predict_proba(xtr), teacher.predict_proba(xte)
    print(f"teacher test accuracy {np.mean(pte.argmax(1) == yte):.4f}")
    for name, xs, ys, ps in (("train", xtr, ytr, ptr), ("test", xte, yte, pte)):
        cols = [f"f{i}" for i in range(54)] + ["y"] + [f"p{j}" for j in range(7)]
        data = np.concatenate([xs, ys[:, None], ps], axis=1)
        fmt = ["%.7g"] * 54 + ["%d"] + ["%.7g"] * 7
        np.savetxt(os.path.join(OUT, f"{name}.csv"), data, delimiter=",", header=",".join(cols), comments="", fmt=fmt)
    return xtr, ytr, ptr, xte, yte


def load():
    def read(name):
        d = np.loadtxt(os.path.join(OUT, f"{name}.csv"), delimiter=",", skiprows=1, dtype=np.float32)
        return d[:, :54], d[:, 54].astype(np.int64), d[:, 55:]
    xtr, ytr, ptr = read("train")
    xte, yte, _ = read("test")
    return xtr, ytr, ptr, xte, yte


def torch_run(xtr, ytr, ptr, xte, yte, epochs, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(7)
    model = torch.nn.Sequential(torch.nn.Linear(54, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 7))
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    steps = epochs * ((len(xtr) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps)))
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    q = torch.softmax(torch.log(torch.from_numpy(ptr).clamp_min(1e-30)) / T, dim=1)
    gen = torch.Generator().manual_seed(7)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            logits = model(x[idx])
            soft = F.kl_div(F.log_softmax(logits / T, dim=1), q[idx], reduction="batchmean") * T * T
            hard = F.cross_entropy(logits, y[idx])
            loss = SW * soft + (1 - SW) * hard
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        times.append(time.perf_counter() - t0)
    with torch.no_grad():
        acc = float((model(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
    return times, acc


def ours(epochs, threads):
    env = dict(os.environ, MATMUL_NUM_THREADS=str(threads), RAYON_NUM_THREADS=str(threads))
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "distillery-train", "--example", "kd_speed", "--",
           os.path.join(OUT, "train.csv"), os.path.join(OUT, "test.csv"), str(HIDDEN), str(epochs), str(BATCH),
           str(LR), str(T), str(SW)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=os.path.join(HERE, "..")).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["epoch_seconds"], r["test_accuracy"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    if not os.path.exists(os.path.join(OUT, "test.csv")):
        make_data()
    xtr, ytr, ptr, xte, yte = load()
    rt, racc = ours(args.epochs, args.threads)
    tt, tacc = torch_run(xtr, ytr, ptr, xte, yte, args.epochs, args.threads)
    import torch
    med = lambda v: float(np.median(v))
    print(f"threads={args.threads} epochs={args.epochs} batch={BATCH} rows=100000 net=54-{HIDDEN}-7")
    print(f"{'':12} {'epoch (median)':>15} {'test accuracy':>14}")
    print(f"{'distillery':12} {med(rt):>13.3f} s {racc:>14.4f}")
    print(f"{'PyTorch ' + torch.__version__.split('+')[0]:12} {med(tt):>13.3f} s {tacc:>14.4f}")
    print(f"epoch-time ratio distillery/PyTorch = {med(rt) / med(tt):.2f}; accuracy difference = {100 * (racc - tacc):+.2f} pp")
    print(json.dumps({"distillery_epoch_s": med(rt), "pytorch_epoch_s": med(tt), "distillery_accuracy": racc,
                      "pytorch_accuracy": tacc, "threads": args.threads, "torch": torch.__version__.split("+")[0]}))


if __name__ == "__main__":
    main()
