#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for distillery's registry (Debian's `postgresql` package):
#   scripts/postgres.sh start DIR [PORT]   initdb + pg_ctl start; prints the server's URL
#   scripts/postgres.sh stop DIR           stops it (the folder can then be removed)
# It listens on 127.0.0.1 only, trusts local connections (a test cluster, not a
# production one) and runs as the `postgres` user when started by root, since PostgreSQL
# refuses to run as root.
set -euo pipefail
command=${1:?usage: scripts/postgres.sh start|stop DIR [PORT]}
dir=${2:?usage: scripts/postgres.sh start|stop DIR [PORT]}
port=${3:-55432}
bin=$(dirname "$(command -v pg_ctl 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -1)")
if [ ! -x "$bin/pg_ctl" ]; then
  echo "PostgreSQL is not installed: apt-get install postgresql (Debian), then run this again" >&2
  exit 2
fi
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$command" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U distillery --auth=trust -E UTF8 --locale=C >"$dir/initdb.log"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
      "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    echo "postgres://distillery@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=$(cd "$dir" && pwd)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  *)
    echo "usage: scripts/postgres.sh start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
