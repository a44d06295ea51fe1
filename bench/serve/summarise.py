"""Reads bench/serve.sh's wrk outputs (<server>-c<connections>.txt) and prints a markdown
table: requests/s, p50 and p99 latency, non-2xx answers, and distillery's ratio."""

import pathlib
import re
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * UNITS[unit]


def parse(path):
    text = path.read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = ms(re.search(r"\s50%\s+(\S+)", text).group(1))
    p99 = ms(re.search(r"\s99%\s+(\S+)", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return rps, p50, p99, int(bad.group(1)) if bad else 0, errors.group(1) if errors else "none"


def main():
    out = pathlib.Path(sys.argv[1])
    results = {}
    for f in sorted(out.glob("*-c*.txt")):
        server, conns = f.stem.rsplit("-c", 1)
        results[(server, int(conns))] = parse(f)
    servers = sorted({s for s, _ in results}, key=lambda s: (not s.startswith("distillery"), s))
    print("| server | connections | requests/s | p50 ms | p99 ms | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|")
    for conns in sorted({c for _, c in results}):
        for s in servers:
            if (s, conns) in results:
                rps, p50, p99, bad, errors = results[(s, conns)]
                print(f"| {s} | {conns} | {rps:,.0f} | {p50:.3f} | {p99:.3f} | {bad} | {errors} |")
    print()
    for conns in sorted({c for _, c in results}):
        ours = results.get(("distillery", conns))  # the default: no batching
        peers = {s: r for (s, c), r in results.items() if c == conns and s.startswith("mlserver")}
        if ours and peers:
            best = max(peers.items(), key=lambda kv: kv[1][0])
            print(
                f"- {conns} connections: distillery serves {ours[0] / best[1][0]:.1f}x the requests/s of "
                f"the best MLServer setting ({best[0]}), p99 {ours[2]:.3f} ms vs {best[1][2]:.3f} ms"
            )


if __name__ == "__main__":
    main()
