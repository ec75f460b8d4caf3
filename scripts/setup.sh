#!/usr/bin/env bash
# Installs what is missing on a Debian/Ubuntu machine, then the npm packages
# and the build (BPF object + skeleton, native addon, TypeScript), for running
# the agent from a checkout of this repository:
#
#   bash scripts/setup.sh          # what `run` and `demo` need: the build toolchain
#   bash scripts/setup.sh --test   # and what the tests drive (servers, clients,
#                                  # a browser, containers)
#
# Idempotent, and quick when everything is already there. Needs root only
# when a Debian package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

with_tests=
case "${1:-}" in
  '') ;;
  --test) with_tests=1 ;;
  *) log "unknown argument ${1}; usage: bash scripts/setup.sh [--test]"; exit 2 ;;
esac

# The build: clang compiles the BPF program and bpftool (below) makes vmlinux.h and the
# skeleton; node-gyp builds the addon with make, g++ and python3 against libbpf's, libelf's and
# zlib's headers and libraries, which the addon also needs at run time.
packages=(clang libbpf-dev libelf-dev zlib1g-dev make g++ python3)
if [ -n "$with_tests" ]; then
  # What the tests drive: nginx, curl, wrk, redis-server, prometheus, prometheus-alertmanager,
  # chromium; openssl makes the TLS tests' certificates; podman, runc and debootstrap build and
  # run the container image test's stand-in image; dpkg-dev and pkg-config let
  # scripts/libbpf-pic.sh build the position-independent libbpf that the npm package test's
  # prebuilt addon links; iproute2 and iptables make the TCP tests' network namespaces, their
  # 20 % loss and nstat's counters; binutils' nm checks the TLS library's symbol offsets;
  # fuse3 and libfuse3-dev build and mount the slow-flush disk the disk queue is tested on.
  packages+=(curl nginx-light wrk redis-server prometheus prometheus-alertmanager chromium openssl podman runc debootstrap dpkg-dev pkg-config iproute2 iptables binutils fuse3 libfuse3-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v bpftool >/dev/null || missing+=(bpftool)

if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    log "missing packages: ${missing[*]}; run this script as root (sudo) to install them"
    exit 1
  fi
  log "installing ${missing[*]}"
  apt-get update -q
  # Ubuntu ships bpftool in linux-tools, Debian as its own package.
  if [[ " ${missing[*]} " == *" bpftool "* ]] && ! apt-cache show bpftool >/dev/null 2>&1; then
    missing=("${missing[@]/bpftool/}")
    missing+=(linux-tools-common "linux-tools-$(uname -r)")
  fi
  # Do not let the nginx, redis-server and alertmanager packages start system services (ports 80, 6379, 9093).
  policy=/usr/sbin/policy-rc.d
  created_policy=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${missing[*]}
  [ -n "$created_policy" ] && rm -f "$policy"
fi

# package.json's engines: 20.16 or newer (a dependency needs it).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 16) ? 0 : 1)' 2>/dev/null; then
  log "Node.js 20.16 or newer is required (found: $(node --version 2>/dev/null || echo none))"
  exit 1
fi

# npm packages: only when package-lock.json changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

log "building BPF object and skeleton"
make -s -C bpf
log "building native addon"
[ -f build/Makefile ] || npx --no-install node-gyp configure --loglevel=warn >/dev/null
npx --no-install node-gyp build --loglevel=warn >/dev/null
log "compiling TypeScript"
npx --no-install tsc -p tsconfig.json
log "ready"
