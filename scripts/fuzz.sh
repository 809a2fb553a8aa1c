#!/usr/bin/env bash
# Runs the fuzz targets for a bounded time each. Not for CI (CI runs the
# checked-in seed corpora as ordinary tests through go test ./...).
#
#   scripts/fuzz.sh                      every target, FUZZTIME (default 5m) each, one at a time
#   FUZZTIME=30s scripts/fuzz.sh         shorter
#   JOBS=2 scripts/fuzz.sh               two targets at once, the cores shared between them
#   FUZZMINIMIZETIME=1m scripts/fuzz.sh  longer minimisation of new inputs (default 10s)
#   scripts/fuzz.sh FuzzParse FuzzAPIRequest   only these
#
# A failing input is written by go test under <package>/testdata/fuzz/<Target>/
# and the script exits non-zero; commit that file with the fix, so it stays a
# regression test. Logs go to $FUZZLOG (default: a new temporary directory).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

FUZZTIME=${FUZZTIME:-5m}
# Minimising each new interesting input may take go test's default minute,
# during which the target is not fuzzed; a shorter cap keeps it fuzzing.
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-10s}
JOBS=${JOBS:-1}
FUZZLOG=${FUZZLOG:-$(mktemp -d -t dingrecall-fuzz.XXXXXX)}
mkdir -p "$FUZZLOG"
cores=$(nproc 2>/dev/null || echo 2)
parallel=$(( cores / JOBS )); (( parallel < 1 )) && parallel=1

# package and target of every fuzz test
all=(
  "./bot FuzzParse"
  "./dingtalk FuzzDecodeCallback"
  "./dingtalk FuzzVerifySignature"
  "./handlers FuzzAPIRequest"
)
selected=()
if (( $# == 0 )); then
  selected=("${all[@]}")
else
  for want in "$@"; do
    found=""
    for t in "${all[@]}"; do [[ "${t#* }" == "$want" ]] && { selected+=("$t"); found=1; }; done
    [[ -n "$found" ]] || { echo "unknown fuzz target $want (have: ${all[*]#* })" >&2; exit 2; }
  done
fi

echo "fuzzing ${#selected[@]} target(s), $FUZZTIME each, $JOBS at a time, -parallel=$parallel; logs in $FUZZLOG"
run_one() {
  local pkg=$1 target=$2 log="$FUZZLOG/$2.log" start end rc
  start=$(date +%s)
  go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$FUZZMINIMIZETIME" -parallel="$parallel" "$pkg" >"$log" 2>&1
  rc=$?
  end=$(date +%s)
  local execs
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  if (( rc == 0 )); then
    printf '%-22s %-12s %5ss  %12s execs  ok\n' "$target" "$pkg" $((end - start)) "${execs:-?}" >"$FUZZLOG/$target.result"
  else
    printf '%-22s %-12s %5ss  %12s execs  FAILED (see %s)\n' "$target" "$pkg" $((end - start)) "${execs:-?}" "$log" >"$FUZZLOG/$target.result"
  fi
  return $rc
}

failed=0
pids=()
for t in "${selected[@]}"; do
  run_one ${t% *} ${t#* } &
  pids+=($!)
  if (( ${#pids[@]} >= JOBS )); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done

echo
printf '%-22s %-12s %6s  %12s        %s\n' target package time executions result
for t in "${selected[@]}"; do cat "$FUZZLOG/${t#* }.result"; done
if (( failed )); then
  echo; echo "a fuzz target failed: the failing input is under <package>/testdata/fuzz/<Target>/"
  grep -h -A15 -- '--- FAIL' "$FUZZLOG"/*.log | head -60
fi
exit $failed
