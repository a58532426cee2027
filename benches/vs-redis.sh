#!/usr/bin/env bash
# Side-by-side throughput of Ferrous and redis-server on this machine.
#
# Starts a release Ferrous and a redis-server on free loopback ports, runs the
# same redis-benchmark tests against each (each test on both back to back,
# which goes first alternating from round to round: A B, B A, ...), and
# prints the median requests/s of each and the ratio Ferrous/redis-server,
# and the server's CPU time per request (all threads, from
# /proc/PID/task/*/schedstat), which the other load on a small machine moves
# much less than requests/s.
#
# Besides redis-benchmark's built-in tests it runs named custom benchmarks:
#   evalsha-incr     EVALSHA of `return redis.call('incr',KEYS[1])`
#   evalsha-10calls  EVALSHA of a script making ten redis.call()s
#   publish          PUBLISH ch hello with one SUBSCRIBE client attached
#   set-r1m, get-r1m SET / GET of random keys among 1,000,000 (`-r 1000000`)
#                    in database 9, preloaded with those 1,000,000 keys: the
#                    built-in tests all hit one key, which hides what a write
#                    costs in a large keyspace
# and two one-off measurements:
#   - read-heavy mix: GETs answered by other clients while one script loops
#     for 3 s (redis-server answers none until the script ends);
#   - memory: RSS after 1,000,000 SETs of 16-byte values (redis-cli --pipe),
#     and after `redis-benchmark -t zadd -r 1000000 -n 1000000 -P 32`, each
#     on a freshly started pair of servers (so earlier benchmarks leave no
#     allocator state behind).
#
# Usage: benches/vs-redis.sh [rounds]        (default 3 rounds)
# Env:   TESTS    built-in tests (default set,get,incr,lpush,rpop,sadd,hset,
#                 zadd,lrange_100,lrange_300,mset)
#        CUSTOM   custom benchmarks (default "evalsha-incr evalsha-10calls publish
#                 set-r1m get-r1m")
#        N (200000) requests per test without pipelining, NP (N × 5) with:
#                 a pipelined test of 200000 requests lasts ~0.3 s, short
#                 enough for a scheduling hiccup to move its ratio by 10 %,
#        C (50), PIPELINES ("1 16"),
#        KEYS_FOR_RSS (1000000; 0 skips the memory comparison),
#        MIX (1; 0 skips the read-heavy mix),
#        FERROUS_BIN  a prebuilt ferrous-server to use (default: build
#                 target/release/ferrous-server first)
#        FERROUS_ARGS extra Ferrous flags, e.g. "--lazyfree-lazy-server-del yes"
#                 (default none: both servers on their defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
TESTS=${TESTS:-set,get,incr,lpush,rpop,sadd,hset,zadd,lrange_100,lrange_300,mset}
CUSTOM=${CUSTOM:-"evalsha-incr evalsha-10calls publish set-r1m get-r1m"}
N=${N:-200000}
NP=${NP:-$((N * 5))}
C=${C:-50}
PIPELINES=${PIPELINES:-"1 16"}
KEYS_FOR_RSS=${KEYS_FOR_RSS:-1000000}
MIX=${MIX:-1}
FERROUS_BIN=${FERROUS_BIN:-}
FERROUS_ARGS=${FERROUS_ARGS:-}

for t in redis-server redis-benchmark redis-cli python3; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install redis-server redis-tools)"; exit 1; }
done
if [ -z "$FERROUS_BIN" ]; then
  cargo build --release -q --bin ferrous-server
  FERROUS_BIN=./target/release/ferrous-server
fi
[ -x "$FERROUS_BIN" ] || { echo "no executable $FERROUS_BIN"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PIDS=()
FPID=; RPID=
# Starts a fresh Ferrous and redis-server on new free ports.
start_servers() {
  FPORT=$(free_port); RPORT=$(free_port)
  # shellcheck disable=SC2086
  "$FERROUS_BIN" --port "$FPORT" --bind 127.0.0.1 --loglevel warning $FERROUS_ARGS \
    >>"$WORK/ferrous.log" 2>&1 &
  FPID=$!
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$WORK" >>"$WORK/redis.log" 2>&1 &
  RPID=$!
  for p in "$FPORT" "$RPORT"; do
    for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
}
stop_servers() {
  kill "$FPID" "$RPID" "${PIDS[@]}" 2>/dev/null || true
  wait "$FPID" "$RPID" "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
}
cleanup() {
  stop_servers
  rm -rf "$WORK"
}
trap cleanup EXIT
start_servers
port_of() { if [ "$1" = redis ]; then echo "$RPORT"; else echo "$FPORT"; fi; }

INCR_SCRIPT="return redis.call('incr',KEYS[1])"
TEN_SCRIPT="local n = 0
for i = 1, 10 do n = n + redis.call('incr', KEYS[1]) end
return n"
for side in ferrous redis; do
  p=$(port_of "$side")
  SHA_INCR=$(redis-cli -p "$p" script load "$INCR_SCRIPT" 2>/dev/null || true)
  SHA_TEN=$(redis-cli -p "$p" script load "$TEN_SCRIPT" 2>/dev/null || true)
  # One subscriber per server for the publish benchmark.
  redis-cli -p "$p" subscribe ch >/dev/null 2>&1 &
  PIDS+=($!)
done

# The keyspace of set-r1m/get-r1m: key:000000000000 .. key:000000999999 (the
# names redis-benchmark's -r 1000000 draws from), 3-byte values as its SET
# writes, in database 9 so that the other tests keep their small database 0.
if [[ " $CUSTOM " == *-r1m* ]]; then
  python3 - >"$WORK/r1m.resp" <<'PY'
import sys
out = sys.stdout.buffer
out.write(b"*2\r\n$6\r\nSELECT\r\n$1\r\n9\r\n")
for i in range(1_000_000):
    out.write(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n" % i)
PY
  for side in ferrous redis; do
    redis-cli -p "$(port_of "$side")" --pipe <"$WORK/r1m.resp" >/dev/null
  done
fi

# Server CPU time so far in ns (all threads, from schedstat: ns resolution).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
pid_of() { if [ "$1" = redis ]; then echo "$RPID"; else echo "$FPID"; fi; }

# bench SIDE P ITEM -> lines "test,rps,server CPU us per request" for one
# built-in test or custom benchmark.
bench() {
  local port pid; port=$(port_of "$1"); pid=$(pid_of "$1")
  # One redis-benchmark per test, so the server's CPU time is the test's.
  # Names lose their parenthesised detail ("MSET (10 keys)" -> MSET); the
  # LPUSH that fills the list for LRANGE is not a result of its own (its
  # CPU time is, though, counted with the LRANGE test's).
  local cmd c0 c1 lines n=$N
  [ "$2" -gt 1 ] && n=$NP
  case $3 in
    evalsha-incr) cmd="evalsha $SHA_INCR 1 key" ;;
    evalsha-10calls) cmd="evalsha $SHA_TEN 1 key" ;;
    publish) cmd="publish ch hello" ;;
    *) cmd="" ;;
  esac
  c0=$(cpu_ns "$pid")
  if [[ $3 == *-r1m ]]; then
    lines=$(redis-benchmark -p "$port" -n "$n" -c "$C" -P "$2" -t "${3%-r1m}" -r 1000000 \
      --dbnum 9 --csv 2>/dev/null | tail -n +2 | tr -d '"' | cut -d, -f2 | sed "s/^/$3,/")
  elif [ -z "$cmd" ]; then
    lines=$(redis-benchmark -p "$port" -n "$n" -c "$C" -P "$2" -t "$3" --csv 2>/dev/null |
      tail -n +2 | tr -d '"' | cut -d, -f1,2 |
      sed -E '/needed to benchmark/d; s/ \([^,]*\),/,/')
  else
    # shellcheck disable=SC2086
    lines=$(redis-benchmark -p "$port" -n "$n" -c "$C" -P "$2" --csv $cmd 2>/dev/null |
      tail -n +2 | tr -d '"' | cut -d, -f2 | sed "s/^/$3,/")
  fi
  c1=$(cpu_ns "$pid")
  echo "$lines" | awk -F, -v d=$((c1 - c0)) -v n="$n" 'NF == 2 { printf "%s,%s,%.2f\n", $1, $2, d / 1000 / n }'
}

for name in $CUSTOM; do
  case $name in
    evalsha-incr | evalsha-10calls | publish | set-r1m | get-r1m) ;;
    *) echo "unknown custom benchmark $name" >&2; exit 1 ;;
  esac
done

# Each test runs on both servers back to back, the server that goes first
# alternating from round to round, so a burst of load from elsewhere on the
# host, or a drift, falls on both sides of a ratio rather than on one.
declare -A RES CPU
for P in $PIPELINES; do
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="ferrous redis"; else order="redis ferrous"; fi
    for item in ${TESTS//,/ } $CUSTOM; do
      for side in $order; do
        while IFS=, read -r test rps cpu; do
          RES["$P|$test|$side"]+="$rps "
          CPU["$P|$test|$side"]+="$cpu "
        done < <(bench "$side" "$P" "$item")
      done
    done
  done
done

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else if (NR) print (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "requests/s and server CPU µs per request, medians of $ROUNDS rounds (-n $N, pipelined -n $NP; -c $C)"
echo "ratio = Ferrous / redis-server requests/s; cpu ratio = redis-server / Ferrous CPU per request"
printf '%-18s %4s %11s %12s %6s %8s %8s %6s\n' test P ferrous redis-server ratio "cpu F" "cpu R" "ratio"
printf '%-18s %4s %11s %12s %6s %8s %8s %6s\n' ------------------ ---- ----------- ------------ ------ -------- -------- ------
while IFS= read -r key; do
  P=${key%%|*}; test=${key#*|}
  f=$(echo "${RES[$key|ferrous]:-}" | median); r=$(echo "${RES[$key|redis]:-}" | median)
  cf=$(echo "${CPU[$key|ferrous]:-}" | median); cr=$(echo "${CPU[$key|redis]:-}" | median)
  ratio=$(awk -v f="$f" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", f / r; else print "n/a" }')
  cratio=$(awk -v f="$cf" -v r="$cr" 'BEGIN { if (f > 0) printf "%.2f", r / f; else print "n/a" }')
  printf '%-18s %4s %11.0f %12.0f %6s %8.2f %8.2f %6s\n' "$test" "$P" "${f:-0}" "${r:-0}" "$ratio" "${cf:-0}" "${cr:-0}" "$cratio"
done < <(printf '%s\n' "${!RES[@]}" | cut -d'|' -f1,2 | sort -u -t'|' -k1,1n -k2)

if [ "$MIX" -gt 0 ]; then
  echo
  echo "read-heavy mix: GET replies from another client while one script loops for 3 s"
  for side in ferrous redis; do
    p=$(port_of "$side")
    redis-cli -p "$p" set mixkey v >/dev/null
    redis-cli -p "$p" eval "local t = redis.call('time'); local s = t[1] + 3
      while true do local n = redis.call('time'); if n[1] + n[2] / 1e6 >= s + t[2] / 1e6 then break end end
      return 1" 0 >/dev/null 2>&1 &
    spid=$!
    sleep 0.2
    got=$(python3 - "$p" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(0.2)
req = b"*2\r\n$3\r\nGET\r\n$6\r\nmixkey\r\n" * 64
# Every reply is "$1\r\nv\r\n", 7 bytes: count bytes, not parsed replies.
got, end = 0, time.time() + 2.0
while time.time() < end:
    s.sendall(req)
    want = got + 64 * 7
    while got < want and time.time() < end:
        try:
            got += len(s.recv(65536))
        except socket.timeout:
            continue
    if got < want:
        break
replies = got // 7
print(replies)
PY
)
    wait "$spid" 2>/dev/null || true
    echo "$side: ${got} GETs answered in 2 s during the script (~$((got / 2))/s)"
  done
fi

if [ "$KEYS_FOR_RSS" -gt 0 ]; then
  echo
  python3 - "$KEYS_FOR_RSS" >"$WORK/load.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    k = b"key:%d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n0123456789abcdef\r\n" % (len(k), k))
PY
  rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
  stop_servers
  start_servers
  for side in ferrous redis; do
    port=$(port_of "$side"); pid=$FPID; [ "$side" = redis ] && pid=$RPID
    before=$(rss "$pid")
    redis-cli -p "$port" --pipe <"$WORK/load.resp" >/dev/null
    echo "$side: $KEYS_FOR_RSS SETs: dbsize=$(redis-cli -p "$port" dbsize) rss_before=${before}MB rss_after=$(rss "$pid")MB"
  done
  stop_servers
  start_servers
  for side in ferrous redis; do
    port=$(port_of "$side"); pid=$FPID; [ "$side" = redis ] && pid=$RPID
    before=$(rss "$pid")
    redis-benchmark -p "$port" -t zadd -r 1000000 -n 1000000 -P 32 -q >/dev/null 2>&1
    echo "$side: zadd -r 1000000 -n 1000000: zcard=$(redis-cli -p "$port" zcard myzset) rss_before=${before}MB rss_after=$(rss "$pid")MB"
  done
fi
