"""river 0.26.1's detectors on the same 1,000,000-value stream as the Rust bench
(crates/monitor/benches/stream.rs): nanoseconds per update, best of 3. KSWIN runs on the
first 100,000 values only (it is slow in both).

Usage: python bench/stream/river_adwin.py [KSWIN values, default 100000]
"""
import sys
import json
import time

from river import drift

MASK = (1 << 64) - 1
N = 1_000_000


def stream():
    s, out = 1, []
    for i in range(N):
        s = (s * 6364136223846793005 + 1442695040888963407) & MASK
        out.append((s >> 11) / float(1 << 53) + 0.5 * ((i // 250_000) % 2))
    return out


def bench(name, make, values):
    best, fired = float("inf"), 0
    for _ in range(3):
        d = make()
        t = time.perf_counter()
        hits = 0
        for x in values:
            d.update(x)
            if d.drift_detected:
                hits += 1
        best = min(best, time.perf_counter() - t)
        fired = hits
    print(json.dumps({"tool": "river", "detector": name, "updates": len(values), "ns_per_update": best / len(values) * 1e9, "detections": fired}))


values = stream()
bench("adwin", drift.ADWIN, values)
bench("page-hinkley", drift.PageHinkley, values)
bench("kswin", lambda: drift.KSWIN(seed=42), values[:int(sys.argv[1]) if len(sys.argv) > 1 else 100_000])
