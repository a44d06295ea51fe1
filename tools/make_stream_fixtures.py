"""Writes tests/data/drift/river.json: the indices at which river 0.26.1's streaming drift
detectors fire (with their default parameters) on generated streams, for
distillery-monitor's detectors to reproduce exactly.

Streams come from a 64-bit LCG that the Rust tests rebuild:
  s <- s * 6364136223846793005 + 1442695040888963407 (mod 2^64);  u = (s >> 11) / 2^53
Real-valued streams: x_i = u_i * scale_i + shift_i, where (scale, shift) change at the listed
points. Bit streams (DDM): x_i = 1 if u_i < p_i else 0.

Usage: python3 tools/make_stream_fixtures.py   (needs river==0.26.1)
"""
import json
import os

from river import drift
from river.drift import binary

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "drift", "river.json")
MASK = (1 << 64) - 1


def uniforms(seed, n):
    s = seed
    out = []
    for _ in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) & MASK
        out.append((s >> 11) / float(1 << 53))
    return out


def real_stream(seed, n, segments):
    """segments: [(start, scale, shift)], sorted by start."""
    u = uniforms(seed, n)
    out = []
    for i, x in enumerate(u):
        scale, shift = next((sc, sh) for st, sc, sh in reversed(segments) if i >= st)
        out.append(x * scale + shift)
    return out


def bit_stream(seed, n, segments):
    """segments: [(start, p)]."""
    u = uniforms(seed, n)
    out = []
    for i, x in enumerate(u):
        p = next(pp for st, pp in reversed(segments) if i >= st)
        out.append(1 if x < p else 0)
    return out


def detections(detector, stream):
    hits, warnings = [], []
    for i, x in enumerate(stream):
        detector.update(x)
        if detector.drift_detected:
            hits.append(i)
        if getattr(detector, "warning_detected", False):
            warnings.append(i)
    return hits, warnings


def main():
    real = [
        {"seed": 1, "n": 3000, "segments": [[0, 1.0, 0.0], [1000, 1.0, 0.5], [2000, 2.0, -0.5]]},
        {"seed": 2, "n": 4000, "segments": [[0, 1.0, 0.0]]},
        {"seed": 3, "n": 3000, "segments": [[0, 1.0, 0.0], [1500, 1.0, 0.15]]},
        {"seed": 4, "n": 2500, "segments": [[0, 4.0, 0.0], [700, 4.0, 3.0], [1400, 1.0, 0.0]]},
    ]
    bits = [
        {"seed": 5, "n": 3000, "segments": [[0, 0.1], [1500, 0.4]]},
        {"seed": 6, "n": 3000, "segments": [[0, 0.2]]},
        {"seed": 7, "n": 4000, "segments": [[0, 0.05], [1000, 0.15], [2500, 0.02], [3000, 0.5]]},
    ]
    cases = []
    for spec in real:
        stream = real_stream(spec["seed"], spec["n"], spec["segments"])
        case = {"kind": "real", **spec}
        case["adwin"] = detections(drift.ADWIN(), stream)[0]
        case["page_hinkley"] = detections(drift.PageHinkley(), stream)[0]
        case["kswin"] = detections(drift.KSWIN(seed=42), stream)[0]
        cases.append(case)
    for spec in bits:
        stream = bit_stream(spec["seed"], spec["n"], spec["segments"])
        case = {"kind": "bits", **spec}
        case["ddm"], case["ddm_warnings"] = detections(binary.DDM(), stream)
        case["adwin"] = detections(drift.ADWIN(), stream)[0]
        cases.append(case)
    with open(OUT, "w") as f:
        json.dump({"river": "0.26.1", "cases": cases}, f, indent=1)
    for c in cases:
        print(c["kind"], c["seed"], {k: v for k, v in c.items() if k in ("adwin", "page_hinkley", "kswin", "ddm")})


if __name__ == "__main__":
    main()
