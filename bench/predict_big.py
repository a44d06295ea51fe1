"""Scoring a big CSV, whole process: peak memory and time of `distillery predict` against
pandas + onnxruntime (bench/predict_vs_pandas.py's script, reading in chunks of 200,000
rows so that it fits in memory) on the same student.

Builds a CSV of about --gb gigabytes by repeating the rows of --data, then runs each
scorer once under /usr/bin/time and prints wall time, peak resident memory and the ratio.
The targets of issue #15: distillery ≤ 200 MB peak on a 2 GB CSV and ≥ 3× faster.

Usage: python3 bench/predict_big.py --run runs/<id> --data file.csv [--gb 2] [--columns none]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from predict_vs_pandas import SCRIPT  # noqa: E402

# pandas + onnxruntime at their best on a file that does not fit in memory at once: the
# same script reading in chunks of 200,000 rows, each scored and appended to the output.
# (Reading the whole 2 GB file at once was killed for memory with 24 GiB of RAM.)
CHUNK_ROWS = "200000"


def timed(cmd):
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], check=True, capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", out.stderr).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return seconds, peak / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--columns", default=None, help="passed to distillery predict --columns")
    ap.add_argument("--binary", default="target/release/distillery")
    ap.add_argument("--skip-peer", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    data = os.path.join(tmp, "big.csv")
    with open(args.data, encoding="utf-8") as f:
        header, *body = f.read().splitlines()
    block = "\n".join(body) + "\n"
    target = int(args.gb * (1 << 30))
    with open(data, "w", encoding="utf-8") as f:
        f.write(header + "\n")
        written = len(header) + 1
        while written < target:
            f.write(block)
            written += len(block)
    rows = (written - len(header) - 1) // (len(block) // len(body) or 1)
    cmd = [args.binary, "predict", "--model", os.path.join(args.run, "student.safetensors"),
           "--input", data, "--output", os.path.join(tmp, "a.csv")]
    if args.columns is not None:
        cmd += ["--columns", args.columns]
    ours = timed(cmd)
    print(f"{written / (1 << 30):.2f} GB, about {rows:,} rows")
    print(f"distillery predict     {ours[0]:8.1f} s  peak {ours[1]:8.0f} MB")
    os.remove(os.path.join(tmp, "a.csv"))
    if not args.skip_peer:
        script = os.path.join(tmp, "score.py")
        with open(script, "w") as f:
            f.write(SCRIPT)
        peer = timed([sys.executable, script, os.path.join(args.run, "student.onnx"), data, os.path.join(tmp, "b.csv"), CHUNK_ROWS])
        print(f"pandas + onnxruntime   {peer[0]:8.1f} s  peak {peer[1]:8.0f} MB")
        print(f"speed-up {peer[0] / ours[0]:.1f}×, memory {peer[1] / ours[1]:.0f}× less")
    os.remove(data)


if __name__ == "__main__":
    main()
