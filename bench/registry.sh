#!/usr/bin/env bash
# Benchmark of the OCI registry inside `sluice serve`: push (monolithic PUT after POST) and
# pull of one SIZE_MB blob (default 100) over HTTPS on loopback with curl, against the
# disk's plain copy speed (`cp` of the same file, same run) as the baseline; then, when
# skopeo is installed, `skopeo copy` of an OCI layout holding that blob in and out against
# `skopeo copy oci: -> dir:` (skopeo's own local copy). Reports MB/s, the ratio to the
# baseline, and the server's peak RSS (VmHWM). PROFILE=release for release numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-dev}
size_mb=${SIZE_MB:-100}
cargo build --profile "$profile" -q -p sluice --bin sluice
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
bin="${CARGO_TARGET_DIR:-target}/$dir/sluice"
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" serve --listen 127.0.0.1:0 --data "$work/data" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  [ -s "$work/data/kubeconfig" ] && grep -q registry "$work/serve.log" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/^ *server: //p' "$work/data/kubeconfig")
host=${url#https://}
tok=$(cat "$work/data/token")
sed -n 's/^ *certificate-authority-data: //p' "$work/data/kubeconfig" | base64 -d >"$work/ca.crt"
for _ in $(seq 100); do
  curl -s --cacert "$work/ca.crt" -u "any:$tok" "$url/v2/" >/dev/null && break
  sleep 0.1
done

head -c $((size_mb * 1024 * 1024)) /dev/urandom >"$work/blob"
digest="sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)"
now() { date +%s.%N; }
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", b / 1048576 / t }'; }
bytes=$(stat -c %s "$work/blob")

sync
t0=$(now); cp "$work/blob" "$work/blob.copy"; sync; t1=$(now)
cp_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

t0=$(now)
loc=$(curl -s -D - -o /dev/null --cacert "$work/ca.crt" -u "any:$tok" -X POST "$url/v2/bench/blob/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/ca.crt" -u "any:$tok" -X PUT \
  -H 'Content-Type: application/octet-stream' --data-binary "@$work/blob" "$url$loc?digest=$digest")
sync; t1=$(now)
[ "$code" = 201 ] || { echo "push failed: HTTP $code" >&2; exit 1; }
push_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

t0=$(now)
curl -s --cacert "$work/ca.crt" -u "any:$tok" -o "$work/pulled" "$url/v2/bench/blob/blobs/$digest"
sync; t1=$(now)
pull_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
cmp -s "$work/blob" "$work/pulled" || { echo "pulled blob differs" >&2; exit 1; }

echo "registry benchmark ($profile, ${size_mb} MiB blob, load $(cut -d' ' -f1 /proc/loadavg))"
echo "  baseline cp:     $(mbps "$bytes" "$cp_s") MB/s"
echo "  push (curl PUT): $(mbps "$bytes" "$push_s") MB/s  ratio $(awk -v a="$cp_s" -v b="$push_s" 'BEGIN { printf "%.2f", a / b }')x of cp"
echo "  pull (curl GET): $(mbps "$bytes" "$pull_s") MB/s  ratio $(awk -v a="$cp_s" -v b="$pull_s" 'BEGIN { printf "%.2f", a / b }')x of cp"

if command -v skopeo >/dev/null 2>&1; then
  # an OCI layout holding the blob as a layer (skopeo copies compressed layers unchanged)
  lay="$work/layout"; mkdir -p "$lay/blobs/sha256"
  gzip -1 -n -c "$work/blob" >"$work/layer.gz"
  ld=$(sha256sum "$work/layer.gz" | cut -d' ' -f1); mv "$work/layer.gz" "$lay/blobs/sha256/$ld"
  diff=$(gzip -dc "$lay/blobs/sha256/$ld" | sha256sum | cut -d' ' -f1)
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" >"$work/config"
  cd_=$(sha256sum "$work/config" | cut -d' ' -f1); cp "$work/config" "$lay/blobs/sha256/$cd_"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$cd_" "$(stat -c %s "$work/config")" "$ld" "$(stat -c %s "$lay/blobs/sha256/$ld")" >"$work/manifest"
  md=$(sha256sum "$work/manifest" | cut -d' ' -f1); cp "$work/manifest" "$lay/blobs/sha256/$md"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
    "$md" "$(stat -c %s "$work/manifest")" >"$lay/index.json"
  mkdir -p "$work/certs"; cp "$work/ca.crt" "$work/certs/ca.crt"
  t0=$(now); skopeo copy -q "oci:$lay:v1" "dir:$work/dircopy"; sync; t1=$(now)
  base_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  t0=$(now); skopeo copy -q --dest-cert-dir "$work/certs" --dest-creds "any:$tok" "oci:$lay:v1" "docker://$host/bench/image:v1"; t1=$(now)
  in_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  t0=$(now); skopeo copy -q --src-cert-dir "$work/certs" --src-creds "any:$tok" "docker://$host/bench/image:v1" "oci:$work/out:v1"; sync; t1=$(now)
  out_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  echo "  skopeo oci: -> dir: (baseline): ${base_s}s"
  echo "  skopeo copy in:  ${in_s}s  ratio $(awk -v a="$base_s" -v b="$in_s" 'BEGIN { printf "%.2f", a / b }')x of the baseline"
  echo "  skopeo copy out: ${out_s}s  ratio $(awk -v a="$base_s" -v b="$out_s" 'BEGIN { printf "%.2f", a / b }')x of the baseline"
fi
echo "  server peak RSS: $(awk '/VmHWM/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$pid/status")"
