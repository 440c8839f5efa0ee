#!/usr/bin/env bash
# Benchmark of the embedded API server: 10,000 ConfigMaps created and listed through the
# in-process kube-rs client and over HTTP, 50 concurrent watchers, resident memory.
# Goals (docs/benchmarks.md): >= 5,000 creates/s in-process, a list of 10,000 in < 200 ms,
# RSS < 100 MB with 10,000 objects. PROFILE=release for release numbers (default: dev).
# Then creates with ConfigMaps encrypted at rest and with an audit log, as ratios to plain
# creates in the same run (BENCH_ATREST_ONLY=1 runs only that comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-dev}
cargo build --profile "$profile" --locked -q -p sluice-apiserver --example apiserver_bench
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
"${CARGO_TARGET_DIR:-target}/$dir/examples/apiserver_bench" "${N:-10000}"
