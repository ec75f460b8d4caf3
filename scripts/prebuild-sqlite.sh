#!/usr/bin/env bash
# Packs the compiled better-sqlite3 binary of node_modules (built for this
# Node's ABI) as a prebuild-install "local prebuild":
# prebuilds/better-sqlite3/better-sqlite3-vVERSION-node-vABI-linux-ARCH.tar.gz.
#
# Why: better-sqlite3 is a bundled dependency of the npm package, and its
# install script (prebuild-install || node-gyp rebuild) runs when the package
# is installed. prebuild-install downloads its binary from GitHub, which an
# air-gapped node (or this project's CI) cannot reach, and node-gyp needs a
# compiler. The package's .prebuild-installrc (found by prebuild-install's rc
# lookup, which walks up from node_modules/better-sqlite3) points its
# local-prebuilds at this folder, so on a matching Node ABI the binary
# installs offline without a compiler; on another ABI prebuild-install goes
# on as it always does (download, then node-gyp).
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=node_modules/better-sqlite3
binary=build/Release/better_sqlite3.node
[ -f "$pkg/$binary" ] || { echo "prebuild-sqlite: $pkg/$binary is missing (npm ci builds it)" >&2; exit 1; }
# It must load in this Node (the ABI the name below claims).
node -e "require('./$pkg/$binary')" || { echo "prebuild-sqlite: $pkg/$binary does not load in Node $(node --version); npm rebuild better-sqlite3" >&2; exit 1; }

# npm packs the bundled copy with whatever its build/ holds (node-gyp's
# objects, a second sqlite3.c: 15 MB): keep only the binary, which is all
# that loads ("npm rebuild better-sqlite3" makes the rest again).
find "$pkg/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
find "$pkg/build/Release" -mindepth 1 -maxdepth 1 ! -name better_sqlite3.node -exec rm -rf {} +

name=$(node -p "const p = require('./$pkg/package.json'); \`\${p.name}-v\${p.version}-node-v\${process.versions.modules}-linux-\${process.arch}.tar.gz\`")
out=prebuilds/better-sqlite3
rm -rf "$out"
mkdir -p "$out"
# Reproducible: fixed owner, mode and time, so an unchanged binary packs the same bytes.
tar --owner=0 --group=0 --numeric-owner --mode=u=rwx,go=rx --mtime=@0 -C "$pkg" -czf "$out/$name" "$binary"
echo "prebuild-sqlite: $out/$name ($(stat -c %s "$out/$name") bytes)" >&2
