#!/usr/bin/env bash
# Side-by-side throughput of Ferrous and redis-server on this machine.
#
# Starts a release Ferrous and a redis-server on free loopback ports, runs the
# same redis-benchmark tests against each in alternation (A B A B ...), and
# prints the median requests/s of each and the ratio Ferrous/redis-server.
# Then loads 1,000,000 keys with 16-byte values into each (redis-cli --pipe)
# and prints both resident set sizes.
#
# Usage: benches/vs-redis.sh [rounds]        (default 3 rounds)
# Env:   TESTS (default "set,get,incr"), N (200000), C (50), PIPELINES ("1 16"),
#        KEYS_FOR_RSS (1000000; 0 skips the memory comparison)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
TESTS=${TESTS:-set,get,incr}
N=${N:-200000}
C=${C:-50}
PIPELINES=${PIPELINES:-"1 16"}
KEYS_FOR_RSS=${KEYS_FOR_RSS:-1000000}

for t in redis-server redis-benchmark redis-cli python3; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install redis-server redis-tools)"; exit 1; }
done
cargo build --release -q --bin ferrous-server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FPORT=$(free_port); RPORT=$(free_port)
WORK=$(mktemp -d)
./target/release/ferrous-server --port "$FPORT" --bind 127.0.0.1 --loglevel warning >"$WORK/ferrous.log" 2>&1 &
FPID=$!
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
RPID=$!
cleanup() { kill "$FPID" "$RPID" 2>/dev/null || true; wait "$FPID" "$RPID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for p in "$FPORT" "$RPORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done

# bench PORT P -> lines "test,rps"
bench() {
  redis-benchmark -p "$1" -n "$N" -c "$C" -P "$2" -t "$TESTS" --csv 2>/dev/null |
    tail -n +2 | tr -d '"' | cut -d, -f1,2
}

declare -A RES
for P in $PIPELINES; do
  for r in $(seq "$ROUNDS"); do
    for side in ferrous redis; do
      port=$FPORT; [ "$side" = redis ] && port=$RPORT
      while IFS=, read -r test rps; do
        RES["$P|$test|$side"]+="$rps "
      done < <(bench "$port" "$P")
    done
  done
done

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
printf '\n%-14s %4s %14s %14s %8s\n' test P ferrous_rps redis_rps ratio
for key in $(printf '%s\n' "${!RES[@]}" | cut -d'|' -f1,2 | sort -u -t'|' -k1,1n -k2); do
  P=${key%%|*}; test=${key#*|}
  f=$(echo "${RES[$key|ferrous]:-}" | median); r=$(echo "${RES[$key|redis]:-}" | median)
  ratio=$(awk -v f="$f" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", f / r; else print "n/a" }')
  printf '%-14s %4s %14s %14s %8s\n' "$test" "$P" "$f" "$r" "$ratio"
done

if [ "$KEYS_FOR_RSS" -gt 0 ]; then
  python3 - "$KEYS_FOR_RSS" >"$WORK/load.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    k = b"key:%d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n0123456789abcdef\r\n" % (len(k), k))
PY
  rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
  for side in ferrous redis; do
    port=$FPORT; pid=$FPID; [ "$side" = redis ] && { port=$RPORT; pid=$RPID; }
    redis-cli -p "$port" flushall >/dev/null
    before=$(rss "$pid")
    redis-cli -p "$port" --pipe <"$WORK/load.resp" >/dev/null
    echo "$side: dbsize=$(redis-cli -p "$port" dbsize) rss_before=${before}MB rss_after=$(rss "$pid")MB"
  done
fi
