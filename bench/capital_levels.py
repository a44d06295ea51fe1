"""The evaluation's capital-loss finding and its fix: the demo recipe without value levels,
with `[student] value_levels = ["capital-loss", "capital-gain"]` (each frequent exact value
of those columns gets its own one-hot slot, so the student can learn the exact split points
the LightGBM teacher uses), and as the demo runs it now (`point_mass_levels`, on by default,
finds both columns by their mass at 0). Prints each run's model lines, largest slice gap and
weak slices.

Usage: python3 bench/capital_levels.py   (after `cargo build --release -p distillery`)
"""
import os
import subprocess

root = os.path.join(os.path.dirname(__file__), "..")
demo = os.path.abspath(os.path.join(root, "crates", "cli", "demo"))
out = os.path.join(root, "bench", "out", "capital_levels")
os.makedirs(out, exist_ok=True)
exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "distillery")

recipe = open(os.path.join(demo, "recipe.toml")).read()
for name in ("train.csv.gz", "test.csv.gz", "teacher.onnx"):
    recipe = recipe.replace(f'"{name}"', '"' + os.path.join(demo, name).replace("\\", "/") + '"')
variants = {
    "without value levels": recipe.replace("hidden = [64]", "hidden = [64]\npoint_mass_levels = false"),
    "with value_levels named": recipe.replace(
        "hidden = [64]",
        'hidden = [64]\npoint_mass_levels = false\nvalue_levels = ["capital-loss", "capital-gain"]'),
    "as in the demo (point-mass levels, the default)": recipe,
}
for i, (name, text) in enumerate(variants.items()):
    path = os.path.join(out, f"recipe{i}.toml")
    open(path, "w").write(text)
    res = subprocess.run([exe, "run", path, "--quiet", "--no-register", "--out", os.path.join(out, "runs")],
                         capture_output=True, text=True)
    print(f"== {name}")
    for line in res.stdout.splitlines():
        if line.startswith(("teacher ", "student ", "scratch ", "largest slice gap", "weak slices")):
            print(line)
