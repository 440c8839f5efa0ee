#!/usr/bin/env bash
# Benchmark of sluice-git: a generated repository of COMMITS commits touching FILES files
# (default 200 x 2,000) is mirrored cold, `main` resolved, the tree at it walked and every
# file read — by sluice-git (crates/sluice-git/examples/git_bench.rs) and, in the same run,
# by the git CLI doing the same work (`git clone --mirror`, `git rev-parse`,
# `git ls-tree -r` + `git cat-file --batch`). Prints both wall times, the ratio and the peak
# RSS of each side (GNU time). PROFILE=release for release numbers (default: dev).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-dev}
commits=${COMMITS:-200}
files=${FILES:-2000}
cargo build --profile "$profile" --locked -q -p sluice-git --example git_bench
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
bin="${CARGO_TARGET_DIR:-target}/$dir/examples/git_bench"
tmp=$(mktemp -d /tmp/sluice-git-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.com GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.com

# the repository: FILES files in 50 directories, then COMMITS commits each rewriting 10 files
origin="$tmp/origin"
git init -q -b main "$origin"
python3 - "$origin" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"apps/app{i % 50}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"res{i}.yaml"), "w") as f:
        f.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\ndata:\n  v: \"{i}\"\n" + "x" * (i % 400) + "\n")
PY
git -C "$origin" add -A && git -C "$origin" commit -q -m initial
for c in $(seq 1 "$commits"); do
  for k in $(seq 0 9); do
    i=$(( (c * 10 + k) % files ))
    echo "# change $c" >> "$origin/apps/app$((i % 50))/res$i.yaml"
  done
  git -C "$origin" commit -qam "change $c"
done
git -C "$origin" gc -q

measure() { # label, command... -> "wall_ms peak_kib" on stdout, output in $tmp/out
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" > "$tmp/out"
  read -r secs kib < "$tmp/time"
  echo "$secs $kib"
}

git_side() {
  set -e
  git clone -q --mirror "$origin" "$tmp/git-mirror"
  sha=$(git -C "$tmp/git-mirror" rev-parse main)
  git -C "$tmp/git-mirror" ls-tree -r --format='%(objectname)' "$sha" \
    | git -C "$tmp/git-mirror" cat-file --batch | wc -c
}
export -f git_side; export origin tmp

read -r s_secs s_kib < <(measure "$bin" "$origin" "$tmp/cache" main)
sluice_line=$(cat "$tmp/out")
read -r g_secs g_kib < <(measure bash -c git_side)
git_sha=$(git -C "$origin" rev-parse main)
read -r _ _ nfiles nbytes s_sha <<< "$sluice_line"
[ "$s_sha" = "$git_sha" ] || { echo "SHA mismatch: sluice $s_sha git $git_sha" >&2; exit 1; }
[ "$nfiles" = "$files" ] || { echo "file count mismatch: $nfiles != $files" >&2; exit 1; }
echo "repo: $commits commits, $files files ($nbytes bytes at main)"
echo "sluice-git: ${s_secs}s wall (resolve_ms walk_read_ms: $(cut -d' ' -f1-2 <<< "$sluice_line")), peak RSS $((s_kib / 1024)) MiB"
echo "git CLI:    ${g_secs}s wall, peak RSS $((g_kib / 1024)) MiB (largest process)"
python3 -c "import sys; s,g=float(sys.argv[1]),float(sys.argv[2]); print(f'ratio sluice/git: {s/g:.2f}x' if g>0 else 'ratio: n/a')" "$s_secs" "$g_secs"
