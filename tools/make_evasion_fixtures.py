"""Reference adversarial examples from IBM's Adversarial Robustness Toolbox
(tests/data/evasion/art.json).

A small ReLU network (7 inputs → 8 → 6 → 3 classes, seeded weights) is built as a PyTorch
model and wrapped in ART's PyTorchClassifier with the cross-entropy loss and a per-feature
box (clip_values). ART's FastGradientMethod and ProjectedGradientDescent (L∞ and L2,
untargeted, no random start) attack 24 seeded rows, with a mask that keeps two input slots
fixed, as distillery keeps one-hot and immutable slots. distillery's attacks
(crates/train/src/evasion.rs) are tested against these rows to 1e-5.

Usage: python tools/make_evasion_fixtures.py
(needs torch and `pip install adversarial-robustness-toolbox`)
"""
import json
import os

import numpy as np
import torch
from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "evasion", "art.json")
SIZES = [7, 8, 6, 3]
ROWS = 24


def main():
    rng = np.random.default_rng(11)
    layers = []
    modules = []
    for i, (fan_in, fan_out) in enumerate(zip(SIZES, SIZES[1:])):
        w = rng.normal(0, 1 / np.sqrt(fan_in), size=(fan_in, fan_out)).astype(np.float32)
        b = rng.normal(0, 0.1, size=fan_out).astype(np.float32)
        layers.append({"inputs": fan_in, "outputs": fan_out,
                       "weight": w.ravel().tolist(), "bias": b.tolist()})
        linear = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        if i + 2 < len(SIZES):
            modules.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*modules).eval()
    x = rng.normal(0, 1, size=(ROWS, SIZES[0])).astype(np.float32)
    lo = np.full(SIZES[0], -1.5, dtype=np.float32)
    hi = np.full(SIZES[0], 1.5, dtype=np.float32)
    lo[0], hi[0] = -0.5, 2.5
    x = np.clip(x, lo, hi)
    y = rng.integers(0, SIZES[-1], size=ROWS)
    mask = np.ones(SIZES[0], dtype=np.float32)
    mask[[2, 5]] = 0.0
    classifier = PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(),
                                   input_shape=(SIZES[0],), nb_classes=SIZES[-1],
                                   clip_values=(lo, hi), device_type="cpu")
    onehot = np.eye(SIZES[-1], dtype=np.float32)[y]
    attacks = []
    for norm, name in [(np.inf, "inf"), (2, "l2")]:
        for eps, eps_step, steps in [(0.3, 0.3, 1), (0.3, 0.05, 10), (0.8, 0.2, 7)]:
            if steps == 1:
                attack = FastGradientMethod(classifier, norm=norm, eps=eps, eps_step=eps,
                                            num_random_init=0, batch_size=ROWS)
            else:
                attack = ProjectedGradientDescent(classifier, norm=norm, eps=eps,
                                                  eps_step=eps_step, max_iter=steps,
                                                  num_random_init=0, batch_size=ROWS,
                                                  verbose=False)
            adv = attack.generate(x=x, y=onehot, mask=mask)
            attacks.append({"norm": name, "eps": eps, "eps_step": eps_step, "steps": steps,
                            "adversarial": adv.astype(np.float64).ravel().tolist()})
    import art
    out = {"art": art.__version__, "torch": torch.__version__, "layers": layers,
           "x": x.astype(np.float64).ravel().tolist(), "y": y.tolist(),
           "lo": lo.tolist(), "hi": hi.tolist(), "movable": mask.tolist(), "attacks": attacks}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
    print(f"wrote {OUT}: {len(attacks)} attacks on {ROWS} rows (ART {art.__version__})")


if __name__ == "__main__":
    main()
