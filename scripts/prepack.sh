#!/usr/bin/env bash
# npm pack and npm publish run this first (the "prepack" script): everything
# the package's "files" list ships that is built, not committed.
#  - dist/: the TypeScript of src/ only, and nothing stale. It is compiled
#    into a fresh folder and dist/ made equal to it, writing only the files
#    that differ (by rename, so a process starting from dist/ meanwhile never
#    reads a half-written file) and removing outputs whose source is gone.
#  - prebuilds/linux-ARCH/: the prebuilt addon (scripts/prebuild-addon.sh).
#  - prebuilds/better-sqlite3/: better-sqlite3's binary for this Node
#    (scripts/prebuild-sqlite.sh).
# Needs the build toolchain (bash scripts/setup.sh).
set -euo pipefail
# npm pack --json prints its report on stdout: everything here goes to stderr.
exec 1>&2
cd "$(dirname "$0")/.."

log() { printf 'prepack: %s\n' "$*" >&2; }

log "BPF object and skeleton"
make -s -C bpf

log "TypeScript into dist/"
fresh=$(mktemp -d "${TMPDIR:-/tmp}/ht-dist-XXXXXX")
trap 'rm -rf "$fresh"' EXIT
npx --no-install tsc -p tsconfig.json --outDir "$fresh"
mkdir -p dist
(cd "$fresh" && find . -type f) | while read -r f; do
  if ! cmp -s "$fresh/$f" "dist/$f"; then
    mkdir -p "dist/$(dirname "$f")"
    cp "$fresh/$f" "dist/$f.tmp" && mv "dist/$f.tmp" "dist/$f"
  fi
done
(cd dist && find . -type f) | while read -r f; do
  [ -e "$fresh/$f" ] || rm -f "dist/$f"
done
find dist -type d -empty -delete

log "prebuilt addon"
bash scripts/prebuild-addon.sh
log "better-sqlite3's binary"
bash scripts/prebuild-sqlite.sh
