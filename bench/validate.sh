#!/usr/bin/env bash
# Benchmark: `sluice validate` on a 10 MB manifest stream, as a ratio to PyYAML's
# `yaml.safe_load_all` (parsing only, no validation) on the same file, in the same run.
# Installs what it needs: hyperfine and time (Debian), PyYAML (pip) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
for p in hyperfine time; do
  dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }
done
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
cargo build --release --locked -q
BIN=${CARGO_TARGET_DIR:-target}/release/sluice
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/gen_stream.py "${SIZE_MB:-10}" > "$work/stream.yaml"
ls -l "$work/stream.yaml"
"$BIN" validate "$work/stream.yaml" >/dev/null   # must be clean
PY="python3 -c 'import yaml,sys; list(yaml.safe_load_all(open(sys.argv[1])))' $work/stream.yaml"
PYC="python3 -c 'import yaml,sys; list(yaml.load_all(open(sys.argv[1]), Loader=yaml.CSafeLoader))' $work/stream.yaml"
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$work/h.json" \
  -n sluice "$BIN validate $work/stream.yaml" \
  -n pyyaml "$PY" \
  -n pyyaml-libyaml "$PYC"
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"ratio pyyaml/sluice: {r['pyyaml']/r['sluice']:.1f}x  pyyaml-libyaml/sluice: {r['pyyaml-libyaml']/r['sluice']:.1f}x")
PY
for name in sluice pyyaml; do
  if [ $name = sluice ]; then cmd=("$BIN" validate "$work/stream.yaml"); else cmd=(python3 -c 'import yaml,sys; list(yaml.safe_load_all(open(sys.argv[1])))' "$work/stream.yaml"); fi
  /usr/bin/time -v "${cmd[@]}" 2> "$work/time.txt" >/dev/null || true
  echo "$name max RSS: $(grep 'Maximum resident' "$work/time.txt" | awk '{print $6}') KB"
done
