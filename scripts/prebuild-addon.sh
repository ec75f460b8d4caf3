#!/usr/bin/env bash
# Builds the prebuilt addon that the npm package ships:
# prebuilds/linux-<arch>/ebpf-http-tracer.node (prebuildify's layout, which
# node-gyp-build finds at run time), Node-API so one file serves every Node
# version, stripped, with libbpf linked statically (a position-independent
# libbpf.a from scripts/libbpf-pic.sh, see scripts/addon-link-flags.js): where
# it runs it needs glibc 2.28+, GCC 12's libstdc++ (GLIBCXX_3.4.30), libelf.so.1
# and libz.so.1 (Debian: libc6, libstdc++6, libelf1, zlib1g), no libbpf.
#
# It builds in a copy of the addon's sources, never in build/: the working
# tree's build/Release stays as it is for the tests running from it.
# Needs bpf/.output/http_tracer.skel.h (make -C bpf) first.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

skeleton=bpf/.output/http_tracer.skel.h
[ -f "$skeleton" ] || { echo "prebuild-addon: $skeleton is missing; run make -C bpf first" >&2; exit 1; }

arch=$(node -p "require('node:os').arch()")
out=prebuilds/linux-$arch
libbpf=$(bash scripts/libbpf-pic.sh)

# Up to date: nothing it is built from is newer than it.
existing=$out/ebpf-http-tracer.node
if [ -f "$existing" ] && [ -z "$(find native binding.gyp bpf/include "$skeleton" scripts/addon-link-flags.js "$0" "$libbpf" -newer "$existing" -print -quit)" ]; then
  echo "prebuild-addon: $existing is up to date" >&2
  exit 0
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/ht-prebuild-XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bpf/.output" "$stage/scripts"
cp -a package.json binding.gyp native "$stage/"
cp -a bpf/include "$stage/bpf/"
cp -a "$skeleton" "$stage/bpf/.output/"
cp -a scripts/addon-link-flags.js "$stage/scripts/"
# binding.gyp asks node-addon-api for its include directory.
ln -s "$repo/node_modules" "$stage/node_modules"

HT_LIBBPF_A=$libbpf npx --no-install prebuildify --napi --strip \
  --target "node@$(node -p process.versions.node)" --cwd "$stage"

rm -rf "$out"
mkdir -p prebuilds
cp -a "$stage/prebuilds/linux-$arch" "$out"

# Only the C and C++ runtimes, libelf and zlib may remain as shared libraries.
for addon in "$out"/*.node; do
  needed=$(readelf -d "$addon" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
  for lib in $needed; do
    case $lib in
      libc.so.6 | libm.so.6 | ld-linux-* | libstdc++.so.6 | libgcc_s.so.1 | libelf.so.1 | libz.so.1) ;;
      *) echo "prebuild-addon: $addon needs $lib at run time (allowed: libc, libstdc++, libelf, zlib)" >&2; exit 1 ;;
    esac
  done
  echo "prebuild-addon: $addon ($(stat -c %s "$addon") bytes; needs: $needed)" >&2
done
