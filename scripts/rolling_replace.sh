#!/usr/bin/env bash
# Three `distillery serve` replicas behind nginx, under wrk load, following one registry:
# 1. a canary started through one replica's admin API reaches every replica, and its
#    promotion through another replica makes every replica serve the new version, each
#    within the bound below;
# 2. a rolling replacement: each replica in turn gets SIGTERM, drains and exits, and a new
#    process (the binary given, e.g. a new release) starts on its port and is waited for
#    until /v2/health/ready answers.
# Passes only when wrk saw no failed request (no socket error, no non-2xx answer).
#
# Usage: scripts/rolling_replace.sh [seconds of load] [distillery binary]   (default 20)
# Needs nginx and wrk (Debian: apt-get install nginx-light wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
bin=$(realpath "${2:-target/release/distillery}")
for tool in nginx wrk curl; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (Debian: apt-get install nginx-light wrk curl)" >&2; exit 2; }
done
out=$(mktemp -d)
pids=()
cleanup() {
  [ -f "$out/nginx.pid" ] && nginx -p "$out" -c nginx.conf -s stop 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$out"
}
trap cleanup EXIT
(cd "$out" && "$bin" demo -q --dir demo >/dev/null)
registry="$out/demo/.distillery"
"$bin" registry promote adult-demo/1 --to production --registry "$registry" >/dev/null 2>&1 || true
# A second version to canary and promote: the same run registered again.
"$bin" registry add "$(ls -d "$out"/demo/runs/*/ | head -1)" --registry "$registry" >/dev/null
# A third, deliberately bad one for the guardrail: trained on the training file with every
# label inverted, hard labels only, no gates (so it registers).
python3 - "$out/demo" <<'PY'
import gzip, sys
demo = sys.argv[1]
flip = {"<=50K": ">50K", ">50K": "<=50K"}
with gzip.open(f"{demo}/train.csv.gz", "rt") as f, open(f"{demo}/inverted.csv", "w") as g:
    g.write(next(f))
    for line in f:
        head, _, label = line.rstrip("\n").rpartition(",")
        g.write(f"{head},{flip.get(label, label)}\n")
recipe = open(f"{demo}/recipe.toml").read().split("[gates]")[0]
recipe = recipe.replace('train = "train.csv.gz"', 'train = "inverted.csv"').replace("soft_weight = 0.9", "soft_weight = 0.0")
recipe = recipe.replace('augment = "munge"', 'augment = "none"').replace("[evaluate]", "epochs = 3\n\n[evaluate]")
open(f"{demo}/inverted.toml", "w").write(recipe)
PY
(cd "$out/demo" && "$bin" run inverted.toml -q --registry "$registry" >/dev/null)
export DISTILLERY_ADMIN_TOKEN=rolling-token

# One replica per port, all following the shared registry (polling every 200 ms).
ports=(18481 18482 18483)
bound_ms=2000
start() {
  "$bin" serve -q --port "$1" --registry "$registry" --no-log --follow true --poll-ms 200 \
    --guard-max-disagreement 0.3 --guard-min-requests 20 --guard-window 100 &
  pids+=($!)
  echo $! > "$out/replica-$1.pid"
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$1/v2/health/ready" >/dev/null && return 0
    sleep 0.05
  done
  echo "replica on port $1 never became ready" >&2
  exit 1
}
for p in "${ports[@]}"; do start "$p"; done

# nginx with the documented config, its replicas and port rewritten for this run.
sed -e "s/127.0.0.1:8081/127.0.0.1:${ports[0]}/; s/127.0.0.1:8082/127.0.0.1:${ports[1]}/; s/127.0.0.1:8083/127.0.0.1:${ports[2]}/" \
    -e "s/listen 8080;/listen 18480;/" deploy/nginx/distillery.conf > "$out/distillery.conf"
cat > "$out/nginx.conf" <<CONF
worker_processes 1;
pid $out/nginx.pid;
error_log $out/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $out/body;
    proxy_temp_path $out/proxy;
    fastcgi_temp_path $out/fastcgi;
    uwsgi_temp_path $out/uwsgi;
    scgi_temp_path $out/scgi;
    include $out/distillery.conf;
}
CONF
nginx -p "$out" -c nginx.conf
for _ in $(seq 100); do curl -sf http://127.0.0.1:18480/v2/health/ready >/dev/null && break; sleep 0.05; done

# One test row as an OIP request, numbers FP32 and categories BYTES.
python3 scripts/oip_body.py "$out/demo/test.csv.gz" "$out/body.json"
curl -sf -H 'content-type: application/json' --data @"$out/body.json" \
  http://127.0.0.1:18480/v2/models/adult-demo/infer >/dev/null

BODY_FILE="$out/body.json" wrk -t2 -c16 -d"${secs}s" -s bench/serve/wrk.lua \
  http://127.0.0.1:18480/v2/models/adult-demo/infer > "$out/wrk.txt" 2>&1 &
load=$!
sleep 2

# The version replica $1 answers the test row with.
version_on() {
  curl -sf -H 'content-type: application/json' --data @"$out/body.json" \
    "http://127.0.0.1:$1/v2/models/adult-demo/infer" | grep -o '"model_version":"[0-9]*"' | tr -dc 0-9
}
# Waits until every replica answers with version $1; prints how long that took.
converge() {
  local began now
  began=$(date +%s%N)
  while true; do
    local all=1
    for p in "${ports[@]}"; do [ "$(version_on "$p")" = "$1" ] || all=0; done
    now=$(( ($(date +%s%N) - began) / 1000000 ))
    if [ "$all" = 1 ]; then echo "$now"; return 0; fi
    if [ "$now" -gt "$bound_ms" ]; then echo "FAILED: not every replica serves version $1 after ${bound_ms} ms" >&2; exit 1; fi
    sleep 0.02
  done
}
admin() {
  curl -sf -X POST -H "Authorization: Bearer $DISTILLERY_ADMIN_TOKEN" -H 'content-type: application/json' \
    --data "$2" "http://127.0.0.1:$1$3" >/dev/null
}
admin "${ports[0]}" '{"version": 2, "weight": 100, "why": "canary under load"}' /admin/models/adult-demo/canary
took=$(converge 2) || exit 1
echo "canary started on one replica, routed by all 3 in $took ms"
admin "${ports[1]}" '{"why": "rolled back under load"}' /admin/models/adult-demo/rollback
took=$(converge 1) || exit 1
echo "canary rolled back on another replica, gone from all 3 in $took ms"
admin "${ports[2]}" '{"version": 2, "weight": 100, "why": "again"}' /admin/models/adult-demo/canary
admin "${ports[0]}" '{"why": "healthy"}' /admin/models/adult-demo/promote
took=$(converge 2) || exit 1
echo "canary promoted, every replica on the new production version in $took ms"
"$bin" registry rollback adult-demo --why "incident drill" --registry "$registry" >/dev/null
took=$(converge 1) || { "$bin" registry audit --registry "$registry" >&2; exit 1; }
echo "production rolled back from the command line, every replica back in $took ms"
# The bad version as a canary. wrk sends one request body, whose id routes it always the
# same way, so the drill gives the canary all the traffic: a replica's guardrail sees it
# disagree with the stable version and rolls it back, once, in the registry; every replica
# follows.
admin "${ports[1]}" '{"version": 3, "weight": 100, "why": "a bad canary"}' /admin/models/adult-demo/canary
began=$(date +%s%N)
until "$bin" registry audit --registry "$registry" | grep -q "guardrail rollback"; do
  if [ $(( ($(date +%s%N) - began) / 1000000 )) -gt "$bound_ms" ]; then
    echo "FAILED: no guardrail rolled the bad canary back within ${bound_ms} ms" >&2; exit 1
  fi
  sleep 0.05
done
sleep 0.5
rollbacks=$("$bin" registry audit --registry "$registry" | grep -c "guardrail rollback")
for p in "${ports[@]}"; do
  for _ in $(seq 30); do
    if [ "$(version_on "$p")" = 3 ]; then echo "FAILED: port $p still routes to the rolled-back canary" >&2; exit 1; fi
  done
done
echo "bad canary rolled back by a guardrail ($rollbacks record in the registry); no replica routes to it"
[ "$rollbacks" = 1 ] || { echo "FAILED: $rollbacks guardrail rollbacks recorded, expected 1" >&2; exit 1; }

for p in "${ports[@]}"; do
  old=$(cat "$out/replica-$p.pid")
  began=$(date +%s.%N)
  kill -TERM "$old"
  while kill -0 "$old" 2>/dev/null; do sleep 0.02; done
  start "$p"
  echo "replaced the replica on port $p: drained, restarted and ready in $(echo "$(date +%s.%N) - $began" | bc) s"
  sleep 2
done
wait "$load"
cat "$out/wrk.txt"
requests=$(awk '/requests in/ {print $1}' "$out/wrk.txt")
if grep -qE "Socket errors|Non-2xx" "$out/wrk.txt"; then
  echo "FAILED: some requests failed during the rolling replacement" >&2
  exit 1
fi
echo "rolling replacement of 3 replicas under load: $requests requests, 0 failed"
