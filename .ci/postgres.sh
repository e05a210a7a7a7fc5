#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the test suite, as a dedicated non-root user
# (postgres refuses to run as root). Prints the URL to use on its last line of stdout.
#   usage: .ci/postgres.sh start DIR [PORT]   |   .ci/postgres.sh stop DIR
set -euo pipefail
action=${1:?start|stop}
dir=${2:?data directory}
port=${3:-55432}
user=agentlab-pg

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "postgres.sh: PostgreSQL server binaries not found; installing Debian's postgresql" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

as_user() { runuser -u "$user" -- "$@"; }

case "$action" in
  start)
    id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /usr/sbin/nologin "$user"
    mkdir -p "$dir"
    chown "$user" "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >&2 \
      || { cat "$dir/server.log" >&2; exit 1; }
    as_user "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='agentlab_test'" | grep -q 1 \
      || as_user "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres agentlab_test
    echo "postgresql://postgres@127.0.0.1:$port/agentlab_test"
    ;;
  stop)
    [ -f "$dir/data/postmaster.pid" ] && as_user "$bindir/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
    ;;
  *) echo "postgres.sh: unknown action $action" >&2; exit 2 ;;
esac
