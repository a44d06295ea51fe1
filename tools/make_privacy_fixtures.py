"""Reference values of Opacus' Rényi-DP accountant (tests/data/privacy/opacus_rdp.json).

For a grid of (sample rate q, noise multiplier σ, steps, δ): Opacus' RDPAccountant ε and
its best order on the default orders; and for a grid of target ε: the noise multiplier
Opacus' `get_noise_multiplier` finds (RDP accountant, tolerance 0.01). distillery's
accountant (crates/train/src/accountant.rs) is tested against these to 1e-6.

Usage: python tools/make_privacy_fixtures.py   (needs `pip install opacus`, with torch)
"""
import json
import os
import warnings

import opacus
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

warnings.simplefilter("ignore")
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "privacy", "opacus_rdp.json")


def main():
    epsilon = []
    for q in [0.001, 0.004, 0.01, 0.05, 0.2, 1.0]:
        for sigma in [0.5, 0.8, 1.0, 1.3, 2.0, 4.0]:
            for steps in [1, 100, 3000, 20000]:
                for delta in [1e-5, 1e-7]:
                    acc = RDPAccountant()
                    acc.history = [(sigma, q, steps)]
                    eps, order = acc.get_privacy_spent(delta=delta)
                    epsilon.append(dict(sample_rate=q, noise_multiplier=sigma, steps=steps, delta=delta,
                                        epsilon=float(eps), order=float(order)))
    noise = []
    for target in [1.0, 3.0, 8.0]:
        for q, steps in [(0.004, 2000), (0.01, 3000), (256 / 26048, 15000), (0.05, 500)]:
            sigma = get_noise_multiplier(target_epsilon=target, target_delta=1e-5, sample_rate=q, steps=steps,
                                         accountant="rdp")
            noise.append(dict(target_epsilon=target, delta=1e-5, sample_rate=q, steps=steps,
                              noise_multiplier=float(sigma)))
    with open(OUT, "w") as f:
        json.dump({"opacus": opacus.__version__, "epsilon": epsilon, "noise_multiplier": noise}, f, indent=1)
    print(f"{len(epsilon)} ε cases, {len(noise)} noise multipliers -> {OUT}")


if __name__ == "__main__":
    main()
