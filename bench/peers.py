"""Every peer comparison in the README, from one command, into the README's table.

Runs each comparison (onnxruntime inference, PyTorch training, Evidently and scipy drift,
river, NannyML, cleanlab, pandas + onnxruntime scoring, MLServer serving) as its own job,
one job at a time, in interleaved rounds (round 1 runs every job, then round 2, ...), so
a slow spell of the machine spreads over all comparisons instead of sinking one. Each
row reports the median of the rounds for distillery and for the peer, and the ratio's
median with its spread (lowest–highest over the rounds). Workloads are seeded generated
data (the same bytes on every machine) and, when the shared datasets are given, real
ones.

Writes bench/out/peers/results.json (every measurement of every round) and
bench/out/peers/table.md; with --write, replaces the blocks between
`<!-- peers:begin -->` and `<!-- peers:end -->` in README.md and docs/results.md.

Usage (bench/peers.sh does the set-up and calls this):
  python bench/peers.py --bin target/release/distillery --ort-tight <exe> --ort-lib <libonnxruntime.so>
                        [--shared ../shared/data] [--rounds 3] [--only name,...] [--write]
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out", "peers")
PY = sys.executable


def sh(cmd, **kw):
    """Runs a command, returns stdout; stops the driver with the command's stderr on failure."""
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=kw.pop("cwd", ROOT), **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


def last_json(text, key=None):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            obj = json.loads(line)
            if key is None or key in obj:
                return obj
    raise RuntimeError(f"no JSON line in output:\n{text[-2000:]}")


def json_lines(text):
    return [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]


def wall(cmd, repeats=3, **kw):
    """Median wall time of a whole process over `repeats` runs, after one untimed run of the
    same command: a run after other work can spend seconds in the kernel reclaiming memory,
    whichever tool it is, which is the machine's state, not the tool's speed."""
    out = sh(cmd, **kw)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = sh(cmd, **kw)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def row(key, comparison, workload, ours, peer, peer_name, unit, better, note=""):
    """One measured comparison. `better` is "lower" (times) or "higher" (rates)."""
    return dict(key=key, comparison=comparison, workload=workload, ours=ours, peer=peer,
                peer_name=peer_name, unit=unit, better=better, note=note)


# --- the jobs -------------------------------------------------------------------------

def inference(a):
    model = os.path.join(OUT, "plain.onnx")
    if not os.path.exists(model):
        sh([PY, "bench/plain_graph.py", "--out", model])
    r = last_json(sh([a.ort_tight, "plain", a.ort_lib, model, "1024"]), "plain")["plain"]
    w = "54 → 64 → 7 MLP, seeded weights and rows, 1 thread"
    note = f"max abs diff {r['max_abs_diff']:.1e}; core peak {r['peak_gflops']:.0f} GFLOP/s"
    gf = lambda rate: rate * r["flops_per_row"] / 1e9
    return [
        row("batch-network", "batch of 1,024, network only (rows/s)", w + "; onnxruntime on the plain `[N, 54]` Gemm graph",
            r["distillery_network_rows_per_s"], r["onnxruntime_plain_rows_per_s"], "onnxruntime C API", "rows/s", "higher",
            f"{gf(r['distillery_network_rows_per_s']):.0f} vs {gf(r['onnxruntime_plain_rows_per_s']):.0f} GFLOP/s; {note}"),
        row("batch-int8", "int8 batch of 1,024, network only (rows/s)", w + "; distillery int8 (VNNI) vs onnxruntime fp32 plain graph",
            r["distillery_int8_network_rows_per_s"], r["onnxruntime_plain_rows_per_s"], "onnxruntime C API", "rows/s", "higher",
            f"distillery fp32 {r['distillery_network_rows_per_s']:,.0f} rows/s"),
        row("batch-raw", "batch of 1,024 from raw values (rows/s)", w + "; onnxruntime on distillery's exported graph (one input per feature + encoder)",
            r["distillery_raw_rows_per_s"], r["onnxruntime_exported_rows_per_s"], "onnxruntime C API", "rows/s", "higher",
            f"distillery's encoding alone {r['encode_ns_per_row']:.0f} ns/row"),
        row("single-plain", "single row (µs)", w + "; onnxruntime on the plain graph, distillery from raw values",
            r["distillery_single_row_us"], r["onnxruntime_plain_single_row_us"], "onnxruntime C API", "µs", "lower"),
        row("single-exported", "single row (µs)", w + "; onnxruntime on distillery's exported graph",
            r["distillery_single_row_us"], r["onnxruntime_exported_single_row_us"], "onnxruntime C API", "µs", "lower"),
    ]


def training(a):
    r = last_json(sh([PY, "bench/train_speed.py", "--threads", "1", "--epochs", "5"]), "pytorch_epoch_s")
    return [row("train-kd", "KD training, median epoch (s)",
                "54 → 64 → 7 student, 100k rows, batch 256, AdamW + cosine, 1 thread",
                r["distillery_epoch_s"], r["pytorch_epoch_s"], f"PyTorch {r['torch']}", "s", "lower",
                f"test accuracy {r['distillery_accuracy']:.4f} vs {r['pytorch_accuracy']:.4f}")]


def _drift(a, name, ref, cur, numeric, categorical, label):
    rows = []
    tests = []
    for c in numeric.split(","):
        tests += ["--test", f"{c}=ks"]
    for c in categorical.split(","):
        tests += ["--test", f"{c}=chisquare"]
    base = [a.bin, "drift", "-q", "--reference", ref, "--current", cur, "--json"]
    ours_default, out = wall(base)
    ours_default_drifted = json.loads(out)["drifted_columns"]
    ours_tests, out = wall(base + tests)
    ours_tests_drifted = json.loads(out)["drifted_columns"]
    whole = [PY, "bench/drift/whole.py"]
    scipy_s, out = wall(whole + ["scipy", ref, cur, numeric, categorical])
    scipy_drifted = last_json(out)["drifted"]
    ev_s, out = wall(whole + ["evidently", ref, cur, numeric, categorical], repeats=1)
    ev_drifted = last_json(out)["drifted"]
    rows.append(row(f"drift-{name}-scipy", "batch drift, whole process (s)", label + "; KS + chi-square on every column",
                    ours_tests, scipy_s, "scipy loop", "s", "lower",
                    f"drifted columns {ours_tests_drifted} vs {scipy_drifted}"))
    rows.append(row(f"drift-{name}-evidently", "batch drift, whole process (s)", label + "; each tool's default tests",
                    ours_default, ev_s, "Evidently 0.7 DataDriftTable", "s", "lower",
                    f"drifted columns {ours_default_drifted} vs {ev_drifted}"))
    # In memory, with the per-column p-values compared.
    ours = json_lines(sh(["cargo", "bench", "-q", "-p", "distillery-monitor", "--bench", "drift", "--",
                          ref, cur, numeric, categorical, "ks,chisquare"]))[-1]
    peers = {p["tool"]: p for p in json_lines(sh([PY, "bench/drift/peers.py", ref, cur, numeric, categorical, "1"]))}
    sp = peers["scipy loop"]
    worst = max(abs(ours["scores"][c] - sp["scores"][c]) / max(sp["scores"][c], 1e-300) for c in sp["scores"])
    rows.append(row(f"drift-{name}-scipy-memory", "batch drift, data in memory (s)", label + "; KS + chi-square",
                    ours["median_s"], sp["median_s"], "scipy loop", "s", "lower",
                    f"largest relative p-value difference {worst:.1e}"))
    return rows


def drift_generic(a):
    d = os.path.join(OUT, "drift-generic")
    if not os.path.exists(os.path.join(d, "current.csv")):
        os.makedirs(d, exist_ok=True)
        sh([PY, "bench/drift/generic.py", d])
    numeric, categorical = open(os.path.join(d, "columns.txt")).read().split()
    return _drift(a, "generic", os.path.join(d, "reference.csv"), os.path.join(d, "current.csv"), numeric,
                  categorical, "generated: 2 × 200k rows, 20 continuous + 5 categorical columns")


def drift_census(a):
    if not a.shared:
        return []
    d = os.path.join(HERE, "out", "drift")
    numeric = ("age,detailed_industry_recode,detailed_occupation_recode,wage_per_hour,capital_gains,capital_losses,"
               "dividends_from_stocks,num_persons_worked_for_employer,own_business_or_self_employed,veterans_benefits,"
               "weeks_worked_in_year,year")
    categorical = ("class_of_worker,education,enroll_in_edu_inst_last_wk,marital_stat,major_industry_code,"
                   "major_occupation_code,race,hispanic_origin,sex,member_of_a_labor_union,reason_for_unemployment,"
                   "full_or_part_time_employment_stat,tax_filer_stat")
    if not os.path.exists(os.path.join(d, "current.csv")):
        import pandas as pd
        os.makedirs(d, exist_ok=True)
        cols = numeric.split(",") + categorical.split(",")
        frame = pd.read_csv(os.path.join(a.shared, "census_kdd", "census_kdd.csv.gz"), usecols=cols, dtype=str,
                            keep_default_na=False)[cols]
        frame.iloc[:200_000].to_csv(os.path.join(d, "reference.csv"), index=False)
        frame.iloc[-200_000:].to_csv(os.path.join(d, "current.csv"), index=False)
    return _drift(a, "census", os.path.join(d, "reference.csv"), os.path.join(d, "current.csv"), numeric,
                  categorical, "census_kdd: 2 × 200k rows, 12 numeric (few distinct values) + 13 categorical")


def stream(a):
    kswin = "20000"
    ours = {r["detector"]: r for r in json_lines(sh(["cargo", "bench", "-q", "-p", "distillery-monitor", "--bench",
                                                      "stream", "--", kswin]))}
    theirs = {r["detector"]: r for r in json_lines(sh([PY, "bench/stream/river_adwin.py", kswin]))}
    import river
    out = []
    for d, label in [("adwin", "ADWIN"), ("page-hinkley", "Page–Hinkley"), ("kswin", "KSWIN")]:
        o, t = ours[d], theirs[d]
        out.append(row(f"stream-{d}", f"{label}, per update (ns)",
                       f"seeded stream with two mean shifts, {o['updates']:,} updates",
                       o["ns_per_update"], t["ns_per_update"], f"river {river.__version__}", "ns", "lower",
                       f"detections {o['detections']} vs {t['detections']}"))
    return out


def cbpe(a):
    if not a.shared:
        return []
    env = dict(os.environ, PEERS_VENV=os.path.dirname(os.path.dirname(PY)))
    r = last_json(sh(["bash", "bench/cbpe.sh", a.shared], env=env), "nannyml_s")
    return [row("cbpe", "CBPE, label-free accuracy estimate (s)", "car_loan_drift, chunks of 5,000",
                r["distillery_s"], r["nannyml_s"], f"NannyML {r['nannyml']}", "s", "lower",
                f"largest per-chunk difference {r['largest_difference']:.1e}")]


def label_issues(a):
    r = last_json(sh([PY, "bench/label_issues.py"]), "cleanlab_single_s")
    return [row("label-issues", "label-error detection (s)", "seeded 1,000,000 × 10 probabilities, 5% flipped labels",
                r["distillery_s"], r["cleanlab_single_s"], f"cleanlab {r['cleanlab']}, one process", "s", "lower",
                f"cleanlab with its default parallelism {r['cleanlab_default_s']:.2f} s; rows flagged "
                f"{r['distillery_rows']} vs {r['cleanlab_rows']}")]


def _demo(a):
    d = os.path.join(OUT, "demo")
    runs = os.path.join(d, "runs")
    if not os.path.isdir(runs) or not os.listdir(runs):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(OUT, exist_ok=True)
        sh([a.bin, "demo", "-q", "--dir", d])
    run = os.path.join(runs, sorted(os.listdir(runs))[-1])
    test = next(os.path.join(d, f) for f in sorted(os.listdir(d)) if f.startswith("test"))
    return run, test


def scoring(a):
    run, test = _demo(a)
    r = last_json(sh([PY, "bench/predict_vs_pandas.py", "--run", run, "--data", test, "--binary", a.bin]),
                  "pandas_onnxruntime_s")
    return [row("scoring", "batch scoring CSV → CSV, whole process (s)",
                f"{r['rows']:,} Adult rows (the demo's student), every input column copied",
                r["distillery_s"], r["pandas_onnxruntime_s"], "pandas + onnxruntime", "s", "lower")]


def serving(a):
    if not shutil.which("wrk"):
        return [row("serving", "serving, requests/s at 2 connections", "skipped: wrk is not installed",
                    float("nan"), float("nan"), "MLServer", "requests/s", "higher")]
    env = dict(os.environ, PEERS_VENV=os.path.dirname(os.path.dirname(PY)))
    sh(["bash", "bench/serve.sh", "5"], env=env)
    sys.path.insert(0, os.path.join(HERE, "serve"))
    import pathlib

    from summarise import parse
    out = pathlib.Path(HERE, "out", "serve")
    rows = []
    for conns in (2, 32):
        ours = parse(out / f"distillery-c{conns}.txt")
        peers = [(f.stem.rsplit("-c", 1)[0], parse(f)) for f in out.glob(f"mlserver*-c{conns}.txt")]
        name, best = max(peers, key=lambda p: p[1][0])
        rows.append(row(f"serving-c{conns}", f"serving one-row OIP requests at {conns} connections (requests/s)",
                        "the demo's Adult student, wrk on loopback, 5 s per run",
                        ours[0], best[0], f"MLServer 1.7 ({name.removeprefix('mlserver-')})", "requests/s", "higher",
                        f"p99 {ours[2]:.2f} ms vs {best[2]:.2f} ms"))
    return rows


JOBS = {
    "inference": inference,
    "training": training,
    "drift-generic": drift_generic,
    "drift-census": drift_census,
    "stream": stream,
    "cbpe": cbpe,
    "label-issues": label_issues,
    "scoring": scoring,
    "serving": serving,
}


# --- the table ------------------------------------------------------------------------

def fmt(v, unit):
    if v != v:
        return "–"
    if unit in ("rows/s", "requests/s"):
        return f"{v:,.0f}"
    if unit == "ns":
        return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"
    if unit == "µs":
        return f"{v:.2f}"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def ratio(r):
    """How many times better distillery is (> 1: distillery wins)."""
    if r["better"] == "lower":
        return r["peer"] / r["ours"]
    return r["ours"] / r["peer"]


def versions():
    out = {"python": platform.python_version()}
    for mod in ["onnxruntime", "torch", "evidently", "scipy", "river", "nannyml", "cleanlab", "mlserver", "pandas"]:
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?").split("+")[0]
        except Exception:  # noqa: BLE001 - an absent peer is reported, not fatal
            out[mod] = "absent"
    out["rustc"] = sh(["rustc", "--version"]).split()[1]
    return out


def machine():
    model = "unknown CPU"
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores"


def table(results, meta):
    by_key = {}
    for rnd in results:
        for r in rnd:
            by_key.setdefault(r["key"], []).append(r)
    lines = [
        f"Measured by `bench/peers.sh` on {meta['machine']}, {meta['date']}, {meta['rounds']} interleaved rounds "
        f"(medians; the ratio's lowest–highest over the rounds in brackets). Versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        "| comparison | workload | distillery | peer | distillery is better by | notes |",
        "|---|---|---|---|---|---|",
    ]
    for key, rs in by_key.items():
        first = rs[0]
        ours = statistics.median(r["ours"] for r in rs)
        peer = statistics.median(r["peer"] for r in rs)
        ratios = [ratio(r) for r in rs if r["ours"] == r["ours"] and r["peer"] == r["peer"]]
        if ratios:
            spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
            verdict = f"**{statistics.median(ratios):.2f}×**{spread}"
        else:
            verdict = "–"
        lines.append(f"| {first['comparison']} | {first['workload']} | {fmt(ours, first['unit'])} | "
                     f"{fmt(peer, first['unit'])} ({first['peer_name']}) | {verdict} | {rs[-1]['note']} |")
    lines.append("")
    lines.append("A ratio above 1 means distillery is faster (less time, or more rows or requests per second); "
                 "below 1, the peer is.")
    return "\n".join(lines)


def write_block(path, text):
    with open(path) as f:
        doc = f.read()
    begin, end = "<!-- peers:begin -->", "<!-- peers:end -->"
    if begin not in doc or end not in doc:
        raise RuntimeError(f"{path} has no {begin} … {end} block")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(head + begin + "\n" + text + "\n" + end + tail)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--ort-tight", required=True)
    ap.add_argument("--ort-lib", required=True)
    ap.add_argument("--shared", default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--table-only", action="store_true",
                    help="no measuring: rebuild the table (and with --write the blocks) from results.json")
    a = ap.parse_args()
    if a.table_only:
        with open(os.path.join(OUT, "results.json")) as f:
            saved = json.load(f)
        text = table(saved["rounds"], saved["meta"])
        print(text)
        if a.write:
            for doc in ("README.md", os.path.join("docs", "results.md")):
                write_block(os.path.join(ROOT, doc), text)
        return
    a.bin = os.path.abspath(a.bin)
    a.ort_tight = os.path.abspath(a.ort_tight)
    if a.shared:
        a.shared = os.path.abspath(a.shared)
        if not os.path.isdir(a.shared):
            a.shared = None
    os.makedirs(OUT, exist_ok=True)
    names = [n for n in (a.only.split(",") if a.only else JOBS) if n]
    unknown = [n for n in names if n not in JOBS]
    if unknown:
        ap.error(f"unknown job(s) {', '.join(unknown)}; known: {', '.join(JOBS)}")
    results = []
    for rnd in range(a.rounds):
        this = []
        for name in names:
            t = time.perf_counter()
            rows = [dict(r, job=name) for r in JOBS[name](a)]
            print(f"round {rnd + 1}: {name} ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
            for r in rows:
                print(f"  {r['comparison']}: distillery {fmt(r['ours'], r['unit'])}, "
                      f"{r['peer_name']} {fmt(r['peer'], r['unit'])}", file=sys.stderr)
            this.extend(rows)
        results.append(this)
    meta = {"machine": machine(), "date": datetime.date.today().isoformat(), "rounds": a.rounds,
            "versions": versions()}
    saved = os.path.join(OUT, "results.json")
    if a.only and os.path.exists(saved):
        # A partial rerun replaces its jobs' rows and keeps the others' (same number of rounds).
        with open(saved) as f:
            old = json.load(f)["rounds"]
        if len(old) == a.rounds:
            results = [[r for r in o if r.get("job") not in names] + n for o, n in zip(old, results)]
            order = list(JOBS)
            results = [sorted(rnd, key=lambda r: order.index(r.get("job", order[0]))) for rnd in results]
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"meta": meta, "rounds": results}, f, indent=1)
    text = table(results, meta)
    with open(os.path.join(OUT, "table.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    if a.write:
        for doc in ("README.md", os.path.join("docs", "results.md")):
            write_block(os.path.join(ROOT, doc), text)


if __name__ == "__main__":
    main()
