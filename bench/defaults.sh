#!/usr/bin/env bash
# The defaults, measured: for each classification set in the shared data, `distillery init`
# writes the smallest recipe (in-house GBDT teacher, size = "auto" student search) and `run` trains
# it; prints teacher / student / scratch test accuracy, the McNemar verdict of distillation
# vs scratch, the synthetic transfer rows used and the wall time, one line per set.
# Usage: bench/defaults.sh <shared-data-dir> [distillery-binary] [sets...]
#        SEEDS="1 2 3" bench/defaults.sh …   one line per seed (each a different split and
#        training) and a mean line per set: one seed on a small set is noisy (credit_data's
#        891 test rows make a row 0.11 pp), so judge a default change over several.
#        TEACHER='{ kind = "gbdt", max_depth = 4 }' bench/defaults.sh …   replaces the
#        teacher line `init` writes, to measure another teacher setting.
#        STUDENT='max_bytes = 50000' bench/defaults.sh …   adds that line to the recipe's
#        [student] section (a search budget, or hidden = [...], which replaces the search).
set -euo pipefail
shared=${1:?usage: bench/defaults.sh <shared-data-dir> [binary] [sets...]}
bin=${2:-target/release/distillery}
shift $(( $# >= 2 ? 2 : 1 ))
sets=("$@")
if [ ${#sets[@]} -eq 0 ]; then
  sets=(phishing credit_data mlc_churn magic letter adult)
fi
declare -A target=([phishing]=is_phishing [credit_data]=Status [mlc_churn]=churn
  [magic]=class [letter]=lettr [adult]=income-per-year)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$(realpath "$bin")
printf '%-12s %8s %8s %8s %9s %-14s %9s %7s %7s %7s\n' set teacher student scratch gain_pp verdict synthetic faster smaller seconds
seeds=(${SEEDS:-})
for set in "${sets[@]}"; do
  cp "$shared/$set/$set.csv" "$work/$set.csv"
  (cd "$work" && "$bin" -q init "$set.csv" --target "${target[$set]}" --output "$set.toml" >/dev/null)
  runs=()
  for seed in "${seeds[@]:-}"; do
    name=$set${seed:+-$seed}
    if [ -n "$seed" ]; then
      sed "s/^seed = .*/seed = $seed/" "$work/$set.toml" >"$work/$name.toml"
    fi
    if [ -n "${TEACHER:-}" ]; then
      sed -i "s/^train = { kind = \"gbdt\" }.*/train = ${TEACHER}/" "$work/$name.toml"
    fi
    if [ -n "${STUDENT:-}" ]; then
      sed -i "s/^\[student\]$/[student]\n${STUDENT}/" "$work/$name.toml"
      case $STUDENT in hidden*) sed -i '/^size = "auto"/d' "$work/$name.toml" ;; esac
    fi
    (cd "$work" && "$bin" -q run "$name.toml" --out runs --no-register --json >"$name.json" 2>/dev/null || true)
    runs+=("$work/$name.json")
  done
  python3 - "$set" "${runs[@]}" <<'PY'
import json, sys
name, files = sys.argv[1], sys.argv[2:]
rows, ratios = [], []
for f in files:
    r = json.load(open(f))
    g = r.get("distillation_gain", {}).get("test", {})
    row = (r["teacher"]["accuracy"], r["student"]["accuracy"], r["scratch"]["accuracy"])
    rows.append(row)
    ratios.append((r["teacher"]["latency_us"] / r["student"]["latency_us"],
                   r["teacher"]["bytes"] / r["student"]["bytes"]))
    label = name if len(files) == 1 else f'{name}@{r["seed"]}'
    t, s = r["teacher"], r["student"]
    print(f'{label:<12} {row[0]:8.4f} {row[1]:8.4f} {row[2]:8.4f} {100 * (row[1] - row[2]):+9.2f} '
          f'{g.get("verdict", "-"):<14} {r["dataset"]["augmented_rows"]:9d} '
          f'{t["latency_us"] / s["latency_us"]:6.1f}x {t["bytes"] / s["bytes"]:6.1f}x {r["seconds"]:7.1f}')
if len(rows) > 1:
    mean = [sum(c) / len(rows) for c in zip(*rows)]
    print(f'{name + " mean":<12} {mean[0]:8.4f} {mean[1]:8.4f} {mean[2]:8.4f} {100 * (mean[1] - mean[2]):+9.2f} '
          f'student/teacher {100 * mean[1] / mean[0]:.1f}%, student >= scratch on '
          f'{sum(r[1] >= r[2] for r in rows)} of {len(rows)}, faster {min(f for f, _ in ratios):.0f}-'
          f'{max(f for f, _ in ratios):.0f}x, smaller {min(b for _, b in ratios):.0f}-{max(b for _, b in ratios):.0f}x '
          f'(>= 20x on {sum(b >= 20 for _, b in ratios)} of {len(rows)})')
PY
done
