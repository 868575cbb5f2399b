#!/usr/bin/env bash
# hallqd against the two usual ways of building a ticket queue, same
# workload, same machine, one run: PostgreSQL (synchronous_commit = on) and
# Redis (appendfsync always), each started here on loopback in a temporary
# directory and stopped on exit. Installs nothing: see BENCHMARKS.md
# (apt-get install postgresql redis-server).
#
# Usage: bench/compare.sh            (from the workspace root)
# Workload knobs (environment): KIOSKS WINDOWS DISPLAYS DURATION RATE
set -euo pipefail

KIOSKS=${KIOSKS:-32}
WINDOWS=${WINDOWS:-32}
DISPLAYS=${DISPLAYS:-20}
DURATION=${DURATION:-10}
RATE=${RATE:-}
PG_PORT=${PG_PORT:-5433}
REDIS_PORT=${REDIS_PORT:-6390}

cd "$(dirname "$0")/.."
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || { echo "compare.sh: PostgreSQL not found (apt-get install postgresql)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "compare.sh: redis-server not found (apt-get install redis-server)" >&2; exit 2; }

cargo build --release -p hallq-daemon --bin hallqd -p hallq-bench --bin hallq-load
LOAD=target/release/hallq-load
HALLQD=target/release/hallqd

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hallq-compare.XXXXXX")
chmod 755 "$WORK"
REDIS_PID=
PG_STARTED=

# PostgreSQL refuses to run as root: run its tools as its own user then.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
    set +e
    if [ -n "$PG_STARTED" ]; then as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null; fi
    if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== PostgreSQL on 127.0.0.1:$PG_PORT (synchronous_commit = on)"
mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w start -o \
    "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on \
     -c max_connections=$((KIOSKS + WINDOWS + DISPLAYS + 20)) -c shared_buffers=256MB" >/dev/null
PG_STARTED=1
PG_PID=$(head -n 1 "$WORK/pg/postmaster.pid")

echo "== Redis on 127.0.0.1:$REDIS_PORT (appendonly yes, appendfsync always)"
mkdir -p "$WORK/redis"
cat > "$WORK/redis/redis.conf" <<CONF
bind 127.0.0.1
port $REDIS_PORT
dir $WORK/redis
appendonly yes
appendfsync always
save ""
daemonize no
maxclients $((KIOSKS + WINDOWS + DISPLAYS + 100))
CONF
redis-server "$WORK/redis/redis.conf" >"$WORK/redis/server.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done

COMMON=(--kiosks "$KIOSKS" --windows "$WINDOWS" --displays "$DISPLAYS" --duration "$DURATION" --quiet)
[ -n "$RATE" ] && COMMON+=(--rate "$RATE")

echo "== hallqd"
"$LOAD" --backend hallqd --spawn-daemon "$HALLQD" --state-parent "$WORK" "${COMMON[@]}" --json "$WORK/hallqd.json"
echo "== postgres"
"$LOAD" --backend postgres --pg "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" \
    --server-pid "$PG_PID" "${COMMON[@]}" --json "$WORK/postgres.json"
echo "== redis"
"$LOAD" --backend redis --redis "redis://127.0.0.1:$REDIS_PORT/" --server-pid "$REDIS_PID" \
    "${COMMON[@]}" --json "$WORK/redis.json"

echo
"$LOAD" compare "$WORK/hallqd.json" "$WORK/postgres.json" "$WORK/redis.json"
