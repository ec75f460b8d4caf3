#!/usr/bin/env bash
# Installs a built tree (after `make -C bpf`, node-gyp build and tsc, as
# scripts/setup.sh does) into a root filesystem at PREFIX: only what
# `http-tracer run` needs, under PREFIX/opt/ebpf-http-tracer, and the command
# as PREFIX/usr/local/bin/http-tracer.
# The one way the agent gets into an image: deploy/Dockerfile runs it into its
# staging root, and test/kernel/container-image.test.ts (through
# deploy/image/test-image.sh) into a debootstrapped one.
#
#   deploy/image/install.sh PREFIX
#
# The BPF object needs no copy: `bpftool gen skeleton` embeds it in the addon
# (native/tracer.cc opens it with http_tracer_bpf__open()).
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 PREFIX" >&2; exit 2; }
prefix=$(realpath -m "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
app=$prefix/opt/ebpf-http-tracer
addon=build/Release/http_tracer.node

cd "$repo"
for built in "$addon" dist/cli/main.js; do
  [ -f "$built" ] || { echo "install.sh: $built is missing; build first (bash scripts/setup.sh)" >&2; exit 1; }
done

rm -rf "$app"
mkdir -p "$app/build/Release" "$prefix/usr/local/bin" "$prefix/var/lib/ebpf-http-tracer"
cp -a package.json bin dist dashboard "$app/"
cp -a "$addon" "$app/build/Release/"

# Production dependencies only, each package's own files copied (its nested
# node_modules is listed separately when it holds production packages), so
# the repository's node_modules is read, never pruned. A native package's
# node-gyp intermediates (objects, static libraries) stay behind; its .node
# file is what loads.
# npm ls calls one package invalid, and that one is expected: package.json's override keeps
# light-my-request (fastify's) on cookie 1.x, as cookie 2 needs Node 22, and with fastify
# bundled npm no longer counts the override. Any other problem stops the install.
ls_err=$(mktemp)
trap 'rm -f "$ls_err"' EXIT
listing=$(npm ls --omit=dev --all --parseable 2>"$ls_err") ||
  if grep -v -e 'code ELSPROBLEMS' -e 'invalid: cookie@1\.[0-9.]* .*/node_modules/cookie$' -e 'A complete log of this run' "$ls_err" | grep -q .; then
    cat "$ls_err" >&2
    exit 1
  fi
tail -n +2 <<<"$listing" | sort | while read -r dir; do
  rel=${dir#"$repo"/}
  mkdir -p "$app/$rel"
  tar -C "$dir" --anchored --exclude=./node_modules \
    --exclude=./build/Release/obj.target --exclude=./build/Release/obj --exclude=./build/Release/.deps --exclude='./build/Release/*.a' \
    -cf - . | tar -C "$app/$rel" -xf -
done

ln -sfn /opt/ebpf-http-tracer/bin/http-tracer.js "$prefix/usr/local/bin/http-tracer"
