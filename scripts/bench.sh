#!/usr/bin/env bash
# Runs the performance benchmarks and prints one table (Markdown) with the
# figures, the ratios and the targets of issue 6. Not for CI: it takes a few
# minutes (the 1M-message ledgers dominate) and wants a quiet machine.
#
#   scripts/bench.sh            everything; Redis too when REDIS_URL is set, or when
#                               redis-server is installed (a throwaway one is started)
#   QUICK=1 scripts/bench.sh    fewer repetitions, no 1M ledgers (-short)
#   NO_REDIS=1 scripts/bench.sh skip Redis
#
# Raw benchmark output is kept in $BENCHLOG (default: a new temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

BENCHLOG=${BENCHLOG:-$(mktemp -d -t dingrecall-bench.XXXXXX)}
mkdir -p "$BENCHLOG"
count=5; e2e=300; sends=2000; short=""
if [[ -n "${QUICK:-}" ]]; then count=2; e2e=100; sends=500; short="-short"; fi

redis_pid=""
redis_dir=""
cleanup() {
  if [[ -n "$redis_pid" ]]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  if [[ -n "$redis_dir" ]]; then rm -rf "$redis_dir"; fi
}
trap cleanup EXIT
if [[ -z "${NO_REDIS:-}" && -z "${REDIS_URL:-}" ]] && command -v redis-server >/dev/null 2>&1; then
  redis_dir=$(mktemp -d)
  port=$((20000 + RANDOM % 20000))
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$redis_dir" >"$redis_dir/log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 50); do
    if command -v redis-cli >/dev/null && redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  export REDIS_URL="redis://127.0.0.1:$port/0"
fi
[[ -n "${NO_REDIS:-}" ]] && unset REDIS_URL

bench() { # name package regexp extra-flags...
  local name=$1 pkg=$2 re=$3; shift 3
  echo "== $name: go test -run '^\$' -bench '$re' $* $pkg" >&2
  go test -run '^$' -bench "$re" "$@" "$pkg" | tee "$BENCHLOG/$name.txt" >&2
}

# Ingress: our route and the bare one back to back, $count times, so that
# each pair shares the machine's mood; the ratio is the median of the pairs.
echo "== ingress: handlers.test -test.bench '^BenchmarkCallbackIngress\$' -test.benchtime=1s, $count pairs" >&2
go test -c -o "$BENCHLOG/handlers.test" ./handlers
: >"$BENCHLOG/ingress.txt"
for _ in $(seq "$count"); do
  (cd handlers && "$BENCHLOG/handlers.test" -test.run '^$' -test.bench '^BenchmarkCallbackIngress$' -test.benchtime=1s) | tee -a "$BENCHLOG/ingress.txt" >&2
done
bench recall ./dingtalk '^BenchmarkRecall(200|1000)$' -benchtime=3x -count=1
bench memory ./store/memory '^BenchmarkMemoryLedger$' -benchtime=1s -count=1 $short
# The same newest-20 with the collector off: what the index costs by itself,
# without the marking of a large live heap that allocations pay for.
GOGC=off bench memory-nogc ./store/memory '^BenchmarkMemoryLedger$/./^newest20$' -benchtime=100000x -count=1 $short
if [[ -n "${REDIS_URL:-}" ]]; then
  bench redis ./store/redis '^BenchmarkRedisLedger$' -benchtime=1s -count=1 $short
  # One node against a 3-master cluster (REDIS_CLUSTER_URL, or one the
  # benchmark starts from the installed redis-server).
  bench topology ./store/redis '^BenchmarkTopology$' -benchtime=5s -count=1
fi
bench e2e ./internal/app '^BenchmarkE2ERecall20$' -benchtime="${e2e}x" -count=1
# API sends on each store (the reservation written ahead, then the commit);
# the Redis case starts its own redis-server.
send_stores='^BenchmarkAPISend$'
[[ -n "${NO_REDIS:-}" ]] && send_stores='^BenchmarkAPISend$/^(memory|file)$'
bench send ./internal/app "$send_stores" -benchtime="${sends}x" -count=1
bench sendratio ./internal/app '^BenchmarkAPISendFileVsMemory$' -benchtime=4x -count="$count"

# metric FILE BENCH-PREFIX UNIT: the median of UNIT over the lines of BENCH-PREFIX.
metric() {
  awk -v pre="$2" -v unit="$3" '
    index($1, pre) == 1 && (substr($1, length(pre)+1, 1) == "-" || length($1) == length(pre)) {
      for (i = 3; i <= NF; i++) if ($i == unit) print $(i-1)
    }' "$1" | sort -g | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
num() { awk -v x="$1" -v f="$2" 'BEGIN { if (x == "-") print "-"; else printf(f, x) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf("%.2f", a / b) }'; }
check() { # value op target
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "-") print "n/a"; else if ((op == ">=" && v+0 >= t+0) || (op == "<=" && v+0 <= t+0)) print "met"; else print "**not met**" }'
}
us() { awk -v x="$1" 'BEGIN { if (x == "-") print "-"; else if (x >= 1000000) printf("%.2f ms", x/1e6); else if (x >= 1000) printf("%.1f µs", x/1e3); else printf("%.0f ns", x) }'; }

ing=$BENCHLOG/ingress.txt
ours=$(metric "$ing" BenchmarkCallbackIngress/dingrecall req/s)
bare=$(metric "$ing" BenchmarkCallbackIngress/bare req/s)
# the median over the runs of (ours ÷ bare) of the same run
ing_ratio=$(awk '
  $1 ~ /^BenchmarkCallbackIngress\/dingrecall/ { for (i = 3; i <= NF; i++) if ($i == "req/s") o = $(i-1) }
  $1 ~ /^BenchmarkCallbackIngress\/bare/ { for (i = 3; i <= NF; i++) if ($i == "req/s") if (o > 0) { print o / $(i-1); o = 0 } }
' "$BENCHLOG/ingress.txt" | sort -g | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) printf("%.2f", v[(NR+1)/2]); else printf("%.2f", (v[NR/2]+v[NR/2+1])/2)}')
rc=$BENCHLOG/recall.txt
mem=$BENCHLOG/memory.txt
e2=$BENCHLOG/e2e.txt
sd=$BENCHLOG/send.txt
sr=$BENCHLOG/sendratio.txt
cpu=$(grep -m1 '^cpu:' "$ing" | cut -d' ' -f2- || true)

echo
echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores${cpu:+ ($cpu)}, $(go version | cut -d' ' -f3); raw output in $BENCHLOG"
echo
echo "| measure | figure | ratio | target | |"
echo "|---|---|---|---|---|"
echo "| callback ingress, signed (verify + decode + de-duplicate + enqueue), in process, parallel (median of $count runs) | $(num "$ours" '%.0f') req/s | $ing_ratio × bare (median of the runs' ratios) | ≥ 0.80 × bare | $(check "$ing_ratio" '>=' 0.80) |"
echo "| callback ingress, bare gin handler decoding the same JSON | $(num "$bare" '%.0f') req/s | 1 | | |"
for n in 200 1000; do
  ms=$(metric "$rc" "BenchmarkRecall$n" ms/recall)
  xf=$(metric "$rc" "BenchmarkRecall$n" x_floor)
  xs=$(metric "$rc" "BenchmarkRecall$n" x_sequential)
  echo "| recall $n keys, fake at 50 ms per call and 20 calls/s | $(num "$ms" '%.0f') ms | $(num "$xf" '%.2f') × floor | ≤ 1.3 × floor | $(check "$xf" '<=' 1.3) |"
  echo "| recall $n keys, against sequential calls | | $(num "$xs" '%.2f') × sequential | ≤ 0.25 × sequential | $(check "$xs" '<=' 0.25) |"
done
for size in 10k 1M; do
  n20=$(metric "$mem" "BenchmarkMemoryLedger/$size/newest20" ns/op)
  [[ "$n20" == "-" ]] && continue
  rec=$(metric "$mem" "BenchmarkMemoryLedger/$size/record" ns/op)
  bpm=$(metric "$mem" "BenchmarkMemoryLedger/$size/newest20" B/msg)
  xr=$(metric "$mem" "BenchmarkMemoryLedger/$size/newest20" x_raw)
  echo "| memory ledger at $size messages: newest 20 / record | $(us "$n20") / $(us "$rec") | | flat with history | |"
  echo "| memory ledger at $size messages: bytes per message | $(num "$bpm" '%.0f') B | $(num "$xr" '%.2f') × raw | ≤ 4 × raw | $(check "$xr" '<=' 4) |"
done
n10=$(metric "$mem" "BenchmarkMemoryLedger/10k/newest20" ns/op); n1m=$(metric "$mem" "BenchmarkMemoryLedger/1M/newest20" ns/op)
if [[ "$n1m" != "-" ]]; then
  g=$(ratio "$n1m" "$n10")
  echo "| memory ledger newest 20: 1M ÷ 10k | | $g | ≈ 1 (no growth with history) | $(check "$g" '<=' 1.5) |"
  ng=$BENCHLOG/memory-nogc.txt
  m10=$(metric "$ng" "BenchmarkMemoryLedger/10k/newest20" ns/op); m1m=$(metric "$ng" "BenchmarkMemoryLedger/1M/newest20" ns/op)
  g2=$(ratio "$m1m" "$m10")
  echo "| memory ledger newest 20 with GOGC=off: 10k / 1M, 1M ÷ 10k | $(us "$m10") / $(us "$m1m") | $g2 | ≈ 1 | $(check "$g2" '<=' 1.5) |"
fi
if [[ -f $BENCHLOG/redis.txt ]]; then
  rd=$BENCHLOG/redis.txt
  for size in 10k 1M; do
    n20=$(metric "$rd" "BenchmarkRedisLedger/$size/newest20" ns/op)
    [[ "$n20" == "-" ]] && continue
    rec=$(metric "$rd" "BenchmarkRedisLedger/$size/record" ns/op)
    bpm=$(metric "$rd" "BenchmarkRedisLedger/$size/newest20" B/msg)
    xr=$(metric "$rd" "BenchmarkRedisLedger/$size/newest20" x_raw)
    echo "| Redis ledger at $size messages: newest 20 / record (loopback) | $(us "$n20") / $(us "$rec") | | flat with history | |"
    echo "| Redis ledger at $size messages: used_memory per message | $(num "$bpm" '%.0f') B | $(num "$xr" '%.2f') × raw | ≤ 4 × raw | $(check "$xr" '<=' 4) |"
  done
  r10=$(metric "$rd" "BenchmarkRedisLedger/10k/newest20" ns/op); r1m=$(metric "$rd" "BenchmarkRedisLedger/1M/newest20" ns/op)
  if [[ "$r1m" != "-" ]]; then
    g=$(ratio "$r1m" "$r10")
    echo "| Redis ledger newest 20: 1M ÷ 10k | | $g | ≈ 1 (no growth with history) | $(check "$g" '<=' 1.5) |"
  fi
  for size in 10k 1M; do
    mx=$(metric "$rd" "BenchmarkRedisLedger/$size/scripts" max_cmd_us)
    [[ "$mx" == "-" ]] && continue
    ov=$(metric "$rd" "BenchmarkRedisLedger/$size/scripts" cmds_over_1ms)
    ev=$(metric "$rd" "BenchmarkRedisLedger/$size/scripts" evalsha_us)
    echo "| Redis ledger at $size messages: slowest command of every call kind (SLOWLOG), mean script | $(num "$mx" '%.0f') µs ($(num "$ov" '%.0f') over 1 ms), mean $(num "$ev" '%.0f') µs | | no call ≥ 5 ms | $(check "$mx" '<' 5000) |"
  done
  tp=$BENCHLOG/topology.txt
  if [[ -f $tp ]]; then
    s1=$(metric "$tp" BenchmarkTopology/single ops/s); c3=$(metric "$tp" BenchmarkTopology/cluster ops/s)
    xs=$(metric "$tp" BenchmarkTopology/cluster x_single); xc=$(metric "$tp" BenchmarkTopology/cluster x_capacity)
    echo "| record + newest 20, 8 parallel clients per core: one node / 3-master cluster | $(num "$s1" '%.0f') / $(num "$c3" '%.0f') ops/s | $(num "$xs" '%.2f') × one node | ≥ 2 × | $(check "$xs" '>=' 2) |"
    echo "| the same, by the busiest Redis's CPU per operation (the ratio once each Redis has its own core) | | $(num "$xc" '%.2f') × one node | ≥ 2 × | $(check "$xc" '>=' 2) |"
  fi
else
  echo "| Redis ledger | not run (set REDIS_URL or install redis-server) | | | |"
fi
p50=$(metric "$e2" BenchmarkE2ERecall20 p50_ms); p99=$(metric "$e2" BenchmarkE2ERecall20 p99_ms)
echo "| end to end: signed \"recall 20\" callback → last recall call at the fake (zero latency), $e2e commands | p50 $(num "$p50" '%.2f') ms, p99 $(num "$p99" '%.2f') ms | | | |"
for st in memory file redis; do
  sp50=$(metric "$sd" "BenchmarkAPISend/$st" p50_ms); sp99=$(metric "$sd" "BenchmarkAPISend/$st" p99_ms)
  [[ "$sp50" == "-" ]] && continue
  echo "| API send on the $st store (reserve, send, commit), fake at zero latency, $sends sends one at a time | p50 $(num "$sp50" '%.2f') ms, p99 $(num "$sp99" '%.2f') ms | | | |"
done
for n in 16 64; do
  fr=$(metric "$sr" "BenchmarkAPISendFileVsMemory/senders=$n" file_sends/s)
  mr=$(metric "$sr" "BenchmarkAPISendFileVsMemory/senders=$n" memory_sends/s)
  fx=$(metric "$sr" "BenchmarkAPISendFileVsMemory/senders=$n" file_x_memory)
  echo "| API sends/s, file store ($n parallel callers; median of $count runs) | $(num "$fr" '%.0f') /s (memory: $(num "$mr" '%.0f') /s) | $(num "$fx" '%.2f') × memory | ≥ 0.5 × memory | $(check "$fx" '>=' 0.5) |"
done

# What limits a target that is not met.
echo
notes=0
note() { if (( notes == 0 )); then echo "What limits the targets not met:"; fi; notes=1; echo "- $*"; }
if [[ "$(check "$ing_ratio" '>=' 0.80)" != met ]]; then
  note "callback ingress ($ing_ratio × bare): the bare handler only decodes; ours also checks the HMAC-SHA256 signature, de-duplicates the msgId in go-cache, queues the job, gives the request an ID and builds its log fields (the debug request line's fields are built even when debug is off) and counts the outcome, with about twice the allocations (see B/op and allocs/op in $ing). Profile: go test -run NONE -bench CallbackIngress/dingrecall -cpuprofile cpu.out ./handlers"
fi
xs=$(metric "$rc" BenchmarkRecall1000 x_sequential)
if [[ "$(check "$xs" '<=' 0.25)" != met ]]; then
  note "recall 1,000 keys ($(num "$xs" '%.2f') × sequential): 50 calls under 20 calls per second cannot finish before 2 s + one 50 ms round trip = 2.05 s, which is already 0.82 × the 2.5 s of sequential calls; the 0.25 target is out of reach under that ceiling, and the floor ratio is the meaningful one."
fi
if [[ -n "${n1m:-}" && "$n1m" != "-" && "$(check "$(ratio "$n1m" "$n10")" '<=' 1.5)" != met ]]; then
  note "memory newest 20 at 1M ($(ratio "$n1m" "$n10") × 10k): the index does not grow with history (with GOGC=off the ratio is ${g2:-?}); the difference is the garbage collector marking the ~350 MB live heap of a 1M-message ledger, paid by the allocations each newest-20 makes."
fi
if [[ -f ${tp:-/nonexistent} && "$(check "$(metric "$tp" BenchmarkTopology/cluster x_single)" '>=' 2)" != met ]]; then
  note "cluster throughput ($(num "$(metric "$tp" BenchmarkTopology/cluster x_single)" '%.2f') × one node): on $(nproc) cores the three masters, their clients and the benchmark share the same CPUs, so a cluster cannot add capacity here; the busiest master's CPU per operation ($(num "$(metric "$tp" BenchmarkTopology/cluster x_capacity)" '%.2f') × less than one node's) is what scales once each master has a core of its own."
fi
for n in 16 64; do
  fx=$(metric "$sr" "BenchmarkAPISendFileVsMemory/senders=$n" file_x_memory)
  if [[ "$(check "$fx" '>=' 0.5)" == "**not met**" ]]; then
    note "file store sends at $n callers ($(num "$fx" '%.2f') × memory): each send waits for two fsync'ed commits (its reservation, then its record); concurrent sends share a commit (group commit), so the file store's rate grows with the callers while the memory store is bound by CPU — more parallel callers close the gap."
  fi
done
(( notes == 0 )) && echo "Every target with a check is met."
true
