#!/usr/bin/env bash
# Builds IMAGE, a local stand-in for deploy/Dockerfile's runtime image where no
# registry can be pulled from (the tests' machines): a minimal Debian bookworm
# root filesystem from the machine's own apt mirror with the runtime stage's
# packages, the host's Node 20 at /usr/local/bin/node (where node:20-bookworm-slim
# has it), the agent installed by deploy/image/install.sh (as the Dockerfile's
# build stage does), and the runtime stage's ENV/ENTRYPOINT/CMD lines taken
# from the Dockerfile itself. Needs root, debootstrap and podman; the built
# tree (bash scripts/setup.sh).
#
#   deploy/image/test-image.sh IMAGE
#
# The root filesystem is cached (ROOTFS_CACHE, default /var/cache/ebpf-http-tracer-test)
# as a tarball named by a hash of the debootstrap command, so only the first
# run downloads packages (minutes); later runs take seconds.
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 IMAGE" >&2; exit 2; }
image=$1
here=$(cd "$(dirname "$0")" && pwd)
dockerfile=$here/../Dockerfile
cache=${ROOTFS_CACHE:-/var/cache/ebpf-http-tracer-test}

# The runtime stage's packages, from its apt-get line (libstdc++6 comes with
# node:20-bookworm-slim; Node itself needs it).
runtime_packages=$(sed -n 's/^RUN .*apt-get install -y --no-install-recommends \([a-z0-9 .+-]*\).*/\1/p' "$dockerfile" | tail -n 1)
[ -n "$runtime_packages" ] || { echo "test-image.sh: no apt-get install line in $dockerfile" >&2; exit 1; }
packages=$(echo libstdc++6 $runtime_packages | tr ' ' ',')

# The Debian mirror the machine's apt sources name (deb822 or one-line format).
mirror=$(grep -hoE '(URIs:|^deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 | awk '{print $2}' || true)
mirror=${mirror:-http://deb.debian.org/debian}

debootstrap_args=(--variant=minbase "--include=$packages" bookworm)
tarball=$cache/rootfs-$(echo "${debootstrap_args[*]} $mirror" | sha256sum | cut -c1-16).tar
if [ ! -f "$tarball" ]; then
  mkdir -p "$cache"
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "test-image.sh: debootstrap ${debootstrap_args[*]} from $mirror (cached as $tarball)" >&2
  debootstrap "${debootstrap_args[@]}" "$root/fs" "$mirror" >"$root/log" 2>&1 || { tail -n 30 "$root/log" >&2; exit 1; }
  rm -rf "$root"/fs/var/cache/apt/archives/*.deb "$root"/fs/var/lib/apt/lists/*
  tar -C "$root/fs" -cf "$root/fs.tar" .
  mv "$root/fs.tar" "$tarball"
  rm -rf "$root"
  trap - EXIT
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xf "$tarball"
install -D -m 0755 "$(command -v node)" "$work/usr/local/bin/node"
"$here/install.sh" "$work"

# ENV, ENTRYPOINT, CMD, … of the runtime stage (after the last FROM), one per line.
changes=()
while IFS= read -r line; do changes+=(--change "$line"); done < <(
  awk '/^FROM /{n=NR} {lines[NR]=$0} END{for(i=n+1;i<=NR;i++) print lines[i]}' "$dockerfile" | grep -E '^(ENV|ENTRYPOINT|CMD|USER|WORKDIR|EXPOSE|LABEL) '
)
tar -C "$work" -cf - . | podman import "${changes[@]}" - "$image" >/dev/null
echo "$image"
