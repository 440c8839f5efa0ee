#!/usr/bin/env bash
# Benchmark: `sluice kustomize build` against `kubectl kustomize` (kustomize v5.5.0) in the
# same run, on synthetic overlays of 100, 1,000 and 4,000 resources (namePrefix, namespace,
# labels, image tag, a strategic-merge patch per Deployment, a ConfigMap generator) and a
# resources-only variant. Wall time (median of RUNS), peak RSS from /usr/bin/time, and a
# check that both outputs are byte-identical. PROFILE=debug uses the dev build; SLUICE_BIN=PATH
# measures that binary without building.
set -euo pipefail
cd "$(dirname "$0")/.."
dpkg -s time >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; }
PROFILE=${PROFILE:-release}
if [ -n "${SLUICE_BIN:-}" ]; then
  BIN=$SLUICE_BIN # a binary built already (no build here)
else
  if [ "$PROFILE" = release ]; then cargo build --release --locked -q -p sluice; else cargo build --locked -q -p sluice; fi
  BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/sluice
fi
RUNS=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # prints "seconds maxrss_kb" of one run of "$@"
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" >"$work/out" 2>/dev/null || true
  cat "$work/t"
}
compare() { # CASE DIR: both tools RUNS times on DIR, one table row
  local kt=() st=() km=0 sm=0 t m k s same
  for _ in $(seq "$RUNS"); do
    read -r t m < <(measure kubectl kustomize "$2"); kt+=("$t"); km=$m; cp "$work/out" "$work/k.yaml"
    read -r t m < <(measure "$BIN" kustomize build "$2"); st+=("$t"); sm=$m; cp "$work/out" "$work/s.yaml"
  done
  k=$(printf "%s\n" "${kt[@]}" | median); s=$(printf "%s\n" "${st[@]}" | median)
  same=$(cmp -s "$work/k.yaml" "$work/s.yaml" && echo yes || echo NO)
  python3 - "$1" "$k" "$s" "$km" "$sm" "$same" <<'PY'
import sys
c, k, s, km, sm, same = sys.argv[1:]
k, s = float(k), max(float(s), 0.001)
print(f"{c:<18} {k:>10.3f} {s:>10.3f} {k/s:>7.0f}x {int(km)/1024:>10.1f} {int(sm)/1024:>10.1f} {same}")
PY
}
printf "%-18s %10s %10s %8s %10s %10s %s\n" case kubectl_s sluice_s ratio kubectl_MB sluice_MB identical
for variant in full resources patches; do
  for n in ${SIZES:-100 1000 4000}; do
    d="$work/$variant-$n"
    python3 bench/gen_kustomize.py "$d" "$n" "$variant"
    dir="$d/overlay"; [ "$variant" = resources ] && dir="$d/base"
    compare "$variant-$n" "$dir"
  done
done
# the largest real tree of the shared corpora (by kubectl's output), when they are beside
# the clone (SLUICE_SHARED or ../shared)
shared=${SLUICE_SHARED:-../shared}
if [ -d "$shared/conformance/kustomize" ]; then
  big=""; bigsize=0
  for b in "$shared"/conformance/kustomize/*/buildable.txt; do
    while read -r rel; do
      [ -z "$rel" ] && continue
      d=$(dirname "$b")/$rel
      size=$(timeout 120 kubectl kustomize "$d" 2>/dev/null | wc -c || echo 0)
      if [ "$size" -gt "$bigsize" ]; then big=$d; bigsize=$size; fi
    done < "$b"
  done
  if [ -n "$big" ]; then
    echo "largest real tree: ${big#"$shared"/} ($bigsize bytes of output)"
    compare real-largest "$big"
  fi
fi
# trivial build: process time of one tiny kustomization
mkdir -p "$work/tiny"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n' > "$work/tiny/a.yaml"
printf 'resources:\n- a.yaml\nnamePrefix: x-\n' > "$work/tiny/kustomization.yaml"
/usr/bin/time -f "trivial sluice: %e s wall, %U user + %S sys" "$BIN" kustomize build "$work/tiny" >/dev/null
/usr/bin/time -f "trivial kubectl: %e s wall, %U user + %S sys" kubectl kustomize "$work/tiny" >/dev/null
