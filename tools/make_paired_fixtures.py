"""Reference p-values for McNemar's exact test (crates/eval/src/paired.rs): scipy's
binomtest(b, b + c, 0.5), two-sided, on small, tied, lopsided and large discordant counts.

    python tools/make_paired_fixtures.py > crates/eval/tests/fixtures/mcnemar.in
"""

import scipy
from scipy.stats import binomtest

CASES = [(0, 1), (1, 0), (3, 3), (5, 0), (7, 2), (10, 25), (40, 61), (120, 95),
         (300, 250), (1000, 1100), (2500, 2400), (7, 40), (0, 30), (4000, 4300)]

print(f"// scipy {scipy.__version__}: binomtest(b, b + c, 0.5).pvalue")
print("&[")
for b, c in CASES:
    p = float(binomtest(b, b + c, 0.5).pvalue)
    print(f"    ({b}, {c}, {p!r}),")
print("]")
