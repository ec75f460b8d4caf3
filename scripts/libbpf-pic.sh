#!/usr/bin/env bash
# Prints the path of a libbpf.a built with -fPIC, building it first if needed.
# The prebuilt addon links libbpf statically (scripts/prebuild-addon.sh), and a
# static library can only go into a shared object when its code is
# position-independent: Debian's libbpf-dev ships a libbpf.a that is not
# ("relocation R_X86_64_PC32 against symbol `stderr' can not be used when
# making a shared object"). So this fetches Debian's source of the very
# libbpf version installed (libbpf-dev's headers are what the addon compiles
# against), with apt-get source on a private source list (the machine's apt
# configuration is left alone), and builds the static library only.
#
#   scripts/libbpf-pic.sh     # -> .../libbpf-<version>/libbpf.a
#
# Cached under ${XDG_CACHE_HOME:-~/.cache}/ebpf-http-tracer, one folder per version.
set -euo pipefail

log() { printf 'libbpf-pic: %s\n' "$*" >&2; }

version=$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null) || {
  log "libbpf-dev is not installed (dpkg-query); this script needs Debian or Ubuntu with libbpf-dev"
  exit 1
}
version=${version#*:} # the source version has no epoch
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ebpf-http-tracer/libbpf-$version
archive=$cache/libbpf.a
if [ -f "$archive" ]; then
  echo "$archive"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ht-libbpf-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial"
# deb-src lines for the suites the machine's own deb lines name.
{ grep -rhs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list || true; } | sed 's/^deb /deb-src /' >"$work/sources.list"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && sed 's/^Types:.*/Types: deb-src/' "$f" >"$work/$(basename "$f")"
done
apt_opts=(-q -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work" -o "Dir::State::Lists=$work/lists"
  -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
log "fetching Debian's source of libbpf $version"
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$work" && apt-get "${apt_opts[@]}" source "libbpf=$version" >/dev/null)

log "building libbpf.a with -fPIC"
src=$(find "$work" -maxdepth 2 -type d -path "*/libbpf-*/src" | head -n 1)
[ -n "$src" ] || { log "no libbpf-*/src folder in the unpacked source"; exit 1; }
make -s -C "$src" -j"$(nproc)" BUILD_STATIC_ONLY=1 OBJDIR="$work/obj" EXTRA_CFLAGS=-fPIC "$work/obj/libbpf.a" >/dev/null
mkdir -p "$cache"
cp "$work/obj/libbpf.a" "$archive.tmp" && mv "$archive.tmp" "$archive"
echo "$archive"
