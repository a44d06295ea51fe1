#!/usr/bin/env bash
# A rolling replacement of three `distillery serve` replicas behind nginx, under wrk load:
# each replica in turn gets SIGTERM, drains and exits, and a new process (the binary given,
# e.g. a new release) starts on its port and is waited for until /v2/health/ready answers.
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

# One replica per port; the registry is shared (read by all, written by none).
ports=(18481 18482 18483)
start() {
  "$bin" serve -q --port "$1" --registry "$registry" --no-log &
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
