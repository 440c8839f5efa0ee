#!/usr/bin/env bash
# Benchmark of `sluice quickstart` (issue 14): the whole loop (git push -> EventListener ->
# PipelineRun of 8 tasks -> image and chart in the registry -> GitOps commit -> Argo CD sync
# -> Healthy), RUNS times (default 3). Baseline in the same invocation: `sluice run` of the
# examples/app_deploy pipeline (the same tasks, one process, no server, no registry, no CD),
# so the ratio is what the server loop costs beyond running the pipeline alone. Prints
# push-to-Healthy per run (the figure the quickstart prints), the whole command's wall time,
# and peak RSS (GNU time; the largest of the quickstart and its server children, which it
# waits for). PROFILE=release (default) or dev; SLUICE_BIN=PATH skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
runs=${RUNS:-3}
# SLUICE_BIN=PATH: measure that binary instead of building one
if [ -n "${SLUICE_BIN:-}" ]; then
  bin=$(realpath "$SLUICE_BIN")
else
  cargo build --profile "$profile" --locked -q -p sluice
  dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
  bin="$(pwd)/${CARGO_TARGET_DIR:-target}/$dir/sluice"
fi
tmp=$(mktemp -d /tmp/sluice-quickstart-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# the baseline's notify task posts to the example's receiver
python3 examples/app_deploy/receiver.py --port 0 --port-file "$tmp/port" --out "$tmp/notes.jsonl" >/dev/null 2>&1 &
receiver=$!
trap 'kill $receiver 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
echo "baseline: sluice run of examples/app_deploy (x$runs)"
for i in $(seq "$runs"); do
  examples/app_deploy/setup.sh "$tmp/base$i" "http://127.0.0.1:$(cat "$tmp/port")/" > /dev/null
  /usr/bin/time -f "%e %M" -o "$tmp/time" env SLUICE_DATA_DIR="$tmp/base$i/data" \
    "$bin" run -f examples/app_deploy/pipeline.yaml -f "$tmp/base$i/run.yaml" > "$tmp/base$i.out" 2>&1 \
    || { cat "$tmp/base$i.out"; exit 1; }
  read -r secs kib < <(tail -n1 "$tmp/time")
  echo "  run $i: ${secs}s, peak RSS $((kib / 1024)) MB"
  echo "$secs" >> "$tmp/base"
done

echo "sluice quickstart --exit-when-done (x$runs)"
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$bin" quickstart --exit-when-done --dir "$tmp/qs$i" > "$tmp/qs$i.out" 2>&1 \
    || { cat "$tmp/qs$i.out"; exit 1; }
  read -r secs kib < <(tail -n1 "$tmp/time")
  loop=$(sed -n 's/^Done: from git push to Healthy in \([0-9.]*\)s\./\1/p' "$tmp/qs$i.out")
  echo "  run $i: push to Healthy ${loop}s (whole command ${secs}s), peak RSS $((kib / 1024)) MB"
  echo "$loop" >> "$tmp/loop"
done
python3 - "$tmp/base" "$tmp/loop" <<'PY'
import statistics, sys
base = [float(x) for x in open(sys.argv[1])]
loop = [float(x) for x in open(sys.argv[2])]
b, l = statistics.median(base), statistics.median(loop)
print(f"median: sluice run {b:.2f}s, quickstart push-to-Healthy {l:.2f}s, ratio {l / b:.2f}")
PY
