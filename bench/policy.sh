#!/usr/bin/env bash
# Policy engine benchmark: 20 pod-security-style ClusterPolicies over N Pods (default 10,000),
# one thread. See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p sluice-policy --example policy_bench -- "${1:-10000}"
