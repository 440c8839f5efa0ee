#!/usr/bin/env bash
# Startup of `sluice apiserver`: the time from exec to the first successful GET /readyz, on a
# fresh data directory (first start: the store is created and Sluice's CRDs installed) and on
# a restart over that directory, with peak RSS and the binary's size. Compares a baseline
# binary with a candidate, runs alternating in the same invocation, and prints the medians
# and the candidate/baseline ratios.
#
#   bench/apiserver_startup.sh BASELINE_BINARY CANDIDATE_BINARY [RUNS]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bench/apiserver_startup.sh BASELINE_BINARY CANDIDATE_BINARY [RUNS]" >&2
  exit 2
fi
base=$1 cand=$2 runs=${3:-5}
port=${PORT:-17643}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-startup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

now_ms() { date +%s%3N; }

# one start: prints "ms rss_kb"
start_once() {
  local bin=$1 data=$2
  local t0 t1 pid
  t0=$(now_ms)
  /usr/bin/time -f '%M' -o "$tmp/rss" "$bin" apiserver --listen "127.0.0.1:$port" --data "$data" \
    >"$tmp/log" 2>&1 &
  pid=$!
  until curl -skf "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "server exited:" >&2
      cat "$tmp/log" >&2
      exit 1
    fi
    sleep 0.01
  done
  t1=$(now_ms)
  # let the first-start work settle, then stop the server (time reports its peak RSS)
  sleep 0.5
  # time(1) waits for the server: stop the server (its child) by id
  local child
  child=$(pgrep -P "$pid" || true)
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  echo "$((t1 - t0)) $(tail -1 "$tmp/rss" 2>/dev/null || echo 0)"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

for i in $(seq "$runs"); do
  for which in base cand; do
    bin=$base
    [ "$which" = cand ] && bin=$cand
    data="$tmp/data-$which-$i"
    read -r ms rss < <(start_once "$bin" "$data")
    echo "$ms $rss" >>"$tmp/$which.first"
    read -r ms rss < <(start_once "$bin" "$data")
    echo "$ms $rss" >>"$tmp/$which.restart"
    rm -rf "$data"
  done
done

printf '%-10s %12s %12s %14s %14s %12s\n' binary first_ms restart_ms first_rss_mb restart_rss_mb size_mb
for which in base cand; do
  bin=$base
  [ "$which" = cand ] && bin=$cand
  f=$(cut -d' ' -f1 "$tmp/$which.first" | median)
  r=$(cut -d' ' -f1 "$tmp/$which.restart" | median)
  fr=$(cut -d' ' -f2 "$tmp/$which.first" | median)
  rr=$(cut -d' ' -f2 "$tmp/$which.restart" | median)
  size=$(stat -c %s "$bin")
  printf '%-10s %12s %12s %14.1f %14.1f %12.1f\n' "$which" "$f" "$r" \
    "$(echo "$fr / 1024" | bc -l)" "$(echo "$rr / 1024" | bc -l)" "$(echo "$size / 1048576" | bc -l)"
  eval "${which}_f=$f ${which}_r=$r ${which}_size=$size"
done
# shellcheck disable=SC2154
printf 'ratio cand/base: first start %.2f, restart %.2f, size %.3f\n' \
  "$(echo "$cand_f / $base_f" | bc -l)" "$(echo "$cand_r / $base_r" | bc -l)" \
  "$(echo "$cand_size / $base_size" | bc -l)"
