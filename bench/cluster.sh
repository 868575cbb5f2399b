#!/usr/bin/env bash
# Cluster mode on one machine: a 3-member etcd and 3 hallqd nodes on
# loopback (the demo hall, limits raised for a closed loop), all in a
# temporary directory and stopped on exit. Prints:
#   1. hallq-load against the hall's owner (appends/s, ack p50/p99), then the
#      same workload against a single hallqd on the same config;
#   2. takeover: the owner SIGKILLed ROUNDS times at a random moment; the
#      time from the kill to the new owner serving (its "took the hall over"
#      log line);
#   3. HALLS halls spread over the 3 nodes, one hallq-load per hall at once
#      (2 kiosks, 2 windows each): records/s of the whole cluster.
# Installs nothing: apt-get install etcd-server etcd-client.
#
# Usage: bench/cluster.sh            (from the workspace root)
# Knobs (environment): KIOSKS WINDOWS DISPLAYS DURATION ROUNDS HALLS
set -euo pipefail

KIOSKS=${KIOSKS:-16}
WINDOWS=${WINDOWS:-7}
DISPLAYS=${DISPLAYS:-5}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-10}
HALLS=${HALLS:-8}

cd "$(dirname "$0")/.."
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
    { echo "cluster.sh: etcd not found (apt-get install etcd-server etcd-client)" >&2; exit 2; }
cargo build --release -p hallq-daemon --bin hallqd -p hallq-bench --bin hallq-load
LOAD=$PWD/target/release/hallq-load
HALLQD=$PWD/target/release/hallqd

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hallq-cluster.XXXXXX")
cleanup() {
    set +e
    pkill -f "$WORK/" 2>/dev/null
    sleep 0.5
    pkill -9 -f "$WORK/" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# etcd: three members.
declare -a CLIENT PEER
for i in 0 1 2; do CLIENT[$i]=$(free_port); PEER[$i]=$(free_port); done
INITIAL="e0=http://127.0.0.1:${PEER[0]},e1=http://127.0.0.1:${PEER[1]},e2=http://127.0.0.1:${PEER[2]}"
for i in 0 1 2; do
    (etcd --name e$i --data-dir "$WORK/e$i" \
        --listen-client-urls http://127.0.0.1:${CLIENT[$i]} --advertise-client-urls http://127.0.0.1:${CLIENT[$i]} \
        --listen-peer-urls http://127.0.0.1:${PEER[$i]} --initial-advertise-peer-urls http://127.0.0.1:${PEER[$i]} \
        --initial-cluster "$INITIAL" --initial-cluster-state new --initial-cluster-token hallq-bench \
        --logger zap --log-level warn >"$WORK/e$i.log" 2>&1 &)
done
ENDPOINTS="\"http://127.0.0.1:${CLIENT[0]}\", \"http://127.0.0.1:${CLIENT[1]}\", \"http://127.0.0.1:${CLIENT[2]}\""
ETCDCTL="etcdctl --endpoints=127.0.0.1:${CLIENT[0]},127.0.0.1:${CLIENT[1]},127.0.0.1:${CLIENT[2]}"
export ETCDCTL_API=3

"$HALLQD" gen-cert --out "$WORK/tls" --name 127.0.0.1 >/dev/null
# The demo hall on every node, limits raised (a closed loop would be
# rate-limited by the defaults), one shared certificate.
config() { # name port [cluster]
    sed -e "s#^listen = .*#listen = \"127.0.0.1:$2\"#" -e "s#^state_dir = .*#state_dir = \"$WORK/state-$1\"#" config/demo.toml
    printf '\n[limits]\nrequests_per_second = 1000000\n\n[tls]\ncert = "%s"\nkey = "%s"\n' "$WORK/tls/cert.pem" "$WORK/tls/key.pem"
    if [ -n "${3:-}" ]; then
        printf '\n[cluster]\nendpoints = [%s]\nnode = "%s"\nlease_ttl_secs = 3\n' "$ENDPOINTS" "$1"
    fi
}
declare -A PORT
for n in a b c; do
    PORT[$n]=$(free_port)
    config $n ${PORT[$n]} cluster >"$WORK/$n.toml"
done
# In a subshell, so the shell does not report each SIGKILL below.
start() { (NO_COLOR=1 HALLQ_LOG=info "$HALLQD" --config "$WORK/$1.toml" >>"$WORK/$1.log" 2>&1 &); }
for n in a b c; do start $n; done
owner() { $ETCDCTL get --print-value-only /hallq/owner/main 2>/dev/null; }
for _ in $(seq 1 100); do [ -n "$(owner)" ] && break; sleep 0.2; done
sleep 4 # let the hall settle on the node it hashes to

load() { # port pid json
    "$LOAD" --server 127.0.0.1:$1 --cert "$WORK/tls/cert.pem" \
        --kiosk-token demo-kiosk-token-0001 --window-token 'demo-window{n}-token-0001' \
        --display-token demo-display-token-001 --notifier-token demo-notifier-token-01 \
        --kiosks "$KIOSKS" --windows "$WINDOWS" --displays "$DISPLAYS" --duration "$DURATION" \
        --server-pid "$2" --json "$3" 2>/dev/null | sed -n '/^backend/,/^server peak/p'
}
O=$(owner)
echo "== cluster: load against the owner (node $O)"
load ${PORT[$O]} "$(pgrep -f "$WORK/$O.toml")" "$WORK/cluster.json"
echo "== single hallqd, same config and workload"
SINGLE=$(free_port)
config single $SINGLE >"$WORK/single.toml"
start single
sleep 2
load $SINGLE "$(pgrep -f "$WORK/single.toml")" "$WORK/single.json"
pkill -f "$WORK/single.toml"

echo "== takeover: the owner SIGKILLed at a random moment, $ROUNDS times"
for round in $(seq 1 "$ROUNDS"); do
    [ "$ROUNDS" -gt 0 ] || break
    sleep "1.$((RANDOM % 10))$((RANDOM % 10))"
    O=$(owner)
    before=$(cat "$WORK"/[abc].log | grep -c "took the hall over" || true)
    t0=$(date -u +%s.%N)
    pkill -9 -f "$WORK/$O.toml"
    for _ in $(seq 1 200); do
        now=$(cat "$WORK"/[abc].log | grep -c "took the hall over" || true)
        [ "$now" -gt "$before" ] && break
        sleep 0.05
    done
    line=$(cat "$WORK"/[abc].log | grep "took the hall over" | sed 's/ .*//' | sort | tail -n 1)
    t1=$(date -u -d "$line" +%s.%N)
    echo "round $round: node $O killed, $(owner) serves after $(python3 -c "print(round(($t1-$t0)*1000))") ms"
    start "$O"
    sleep 8
done

[ "$HALLS" -gt 0 ] || exit 0
echo "== $HALLS halls over the 3 nodes, one load generator per hall"
pkill -f "$WORK/[abc].toml" || true
sleep 1
# A config with HALLS halls h1..hN: items A-E, 2 universal windows each,
# tokens per hall.
many() { # name port
    printf 'listen = "127.0.0.1:%s"\nstate_dir = "%s"\n\n[limits]\nrequests_per_second = 1000000\n\n' "$2" "$WORK/many-$1"
    printf '[tls]\ncert = "%s"\nkey = "%s"\n\n' "$WORK/tls/cert.pem" "$WORK/tls/key.pem"
    printf '[cluster]\nendpoints = [%s]\nnode = "%s"\nprefix = "/many"\n\n' "$ENDPOINTS" "$1"
    for h in $(seq 1 "$HALLS"); do
        printf '[[token]]\ntoken = "kiosk-h%s-token-0000001"\nrole = "kiosk"\nhall = "h%s"\n\n' $h $h
        for w in 1 2; do
            printf '[[token]]\ntoken = "window%s-h%s-token-00001"\nrole = "window"\nhall = "h%s"\nwindow = %s\n\n' $w $h $h $w
        done
    done
    for h in $(seq 1 "$HALLS"); do
        printf '[[hall]]\nid = "h%s"\nname = "hall %s"\n' $h $h
        for c in A B C D E; do printf '[[hall.item]]\ncode = "%s"\nname = "item %s"\navg_service_secs = 300\n' $c $c; done
        for w in 1 2; do printf '[[hall.window]]\nnumber = %s\nuniversal = true\n' $w; done
        printf '\n'
    done
}
for n in a b c; do
    many $n ${PORT[$n]} >"$WORK/$n.toml"
    start $n
done
manyowner() { $ETCDCTL get --print-value-only "/many/owner/h$1" 2>/dev/null; }
for _ in $(seq 1 150); do
    all=1
    for h in $(seq 1 "$HALLS"); do [ -n "$(manyowner $h)" ] || all=0; done
    [ $all = 1 ] && break
    sleep 0.2
done
sleep 8 # handovers settle
echo "owners: $(for h in $(seq 1 "$HALLS"); do echo -n "h$h→$(manyowner $h) "; done)"
for h in $(seq 1 "$HALLS"); do
    O=$(manyowner $h)
    "$LOAD" --server 127.0.0.1:${PORT[$O]} --cert "$WORK/tls/cert.pem" \
        --kiosk-token "kiosk-h$h-token-0000001" --window-token "window{n}-h$h-token-00001" \
        --kiosks 2 --windows 2 --displays 0 --no-notifier --duration "$DURATION" \
        --json "$WORK/many-h$h.json" >/dev/null 2>&1 &
done
# Who takes the CPU halfway through (2 cores: 200 % in all).
sleep $((DURATION / 2))
top -b -n 1 -w 200 | awk 'NR > 7 && $9 > 1 { cpu[$12] += $9 } END { for (c in cpu) printf "  %-12s %5.0f %%\n", c, cpu[c] }' | sort -k2 -n -r
wait
python3 - "$WORK" "$HALLS" <<'PY'
import json, sys
work, halls = sys.argv[1], int(sys.argv[2])
total, issue_p50, issue_p99, errors = 0.0, [], [], 0
for h in range(1, halls + 1):
    r = json.load(open(f"{work}/many-h{h}.json"))
    total += r["ticket_ops_per_sec"]
    issue = next(o for o in r["ops"] if o["kind"] == "issue")
    issue_p50.append(issue["latency"]["p50_us"])
    issue_p99.append(issue["latency"]["p99_us"])
    errors += sum(o["errors"] for o in r["ops"])
print(f"{halls} halls: {total:.0f} ticket ops/s in all, {total / halls:.0f} per hall; "
      f"issue p50 {min(issue_p50)}-{max(issue_p50)} us, p99 {min(issue_p99)}-{max(issue_p99)} us "
      f"(range over halls); {errors} errors")
PY
