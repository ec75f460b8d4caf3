#!/usr/bin/env bash
# Which capabilities the agent really needs in its container: runs
# deploy/image/capability-probe.js in the image (load and attach the BPF
# programs through the addon, past the agent's preflight, so a refusal shows
# the kernel's errno; read /proc/<pid>/{cgroup,comm,exe,fd} of a root and a
# nobody process on the host) with the DaemonSet's other settings (host PID
# namespace, read-only root, no new privileges, deploy/seccomp's profile,
# tracefs/debugfs/cgroup mounts) and one capability set per row.
# Needs root and podman; builds the stand-in image unless given one.
#
#   deploy/image/measure-capabilities.sh [IMAGE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-}
if [ -z "$image" ]; then
  image=localhost/ebpf-http-tracer-measure-$$
  "$here/test-image.sh" "$image" >/dev/null
  trap 'podman image rm -f "$image" >/dev/null' EXIT
fi

sleep 120 & root_pid=$!
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 120 & nobody_pid=$!
trap 'kill $root_pid $nobody_pid 2>/dev/null; [ -z "${1:-}" ] && podman image rm -f "$image" >/dev/null' EXIT

base=(--runtime runc run --rm --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --pid=host --network=host
  --read-only --read-only-tmpfs=false --security-opt no-new-privileges --cap-drop=ALL --tmpfs /tmp
  -v /sys/kernel/tracing:/sys/kernel/tracing:ro -v /sys/kernel/debug:/sys/kernel/debug:ro -v /sys/fs/cgroup:/sys/fs/cgroup:ro
  -v "$here/capability-probe.js:/probe.js:ro" --entrypoint node)
profile=(--security-opt "seccomp=$here/../seccomp/ebpf-http-tracer.json")

row() { # LABEL CAPS [EXTRA podman options...]
  local label=$1 caps=$2; shift 2
  local add=(); [ "$caps" = - ] || add=(--cap-add="$caps")
  printf '%-44s %s\n' "$label" "$(podman "${base[@]}" "$@" "${add[@]}" "$image" /probe.js "$root_pid" "$nobody_pid" 2>&1)"
}

echo "host: $(uname -r); this shell's bounding set $(awk '/CapBnd/{print $2}' /proc/self/status); /proc/<pid> of root pid $root_pid and nobody pid $nobody_pid"
full=BPF,PERFMON,SYS_RESOURCE,SYS_PTRACE,DAC_READ_SEARCH
row "$full" "$full" "${profile[@]}"
for cap in ${full//,/ }; do
  rest=$(tr , '\n' <<<"$full" | grep -vx "$cap" | paste -sd,)
  row "without $cap" "$rest" "${profile[@]}"
done
row "BPF,PERFMON" BPF,PERFMON "${profile[@]}"
row "BPF,PERFMON, RLIMIT_MEMLOCK 0" BPF,PERFMON "${profile[@]}" --ulimit memlock=0:0
row "BPF,PERFMON,SYS_PTRACE" BPF,PERFMON,SYS_PTRACE "${profile[@]}"
row "BPF,PERFMON,DAC_READ_SEARCH" BPF,PERFMON,DAC_READ_SEARCH "${profile[@]}"
row "SYS_ADMIN only (the old way)" SYS_ADMIN "${profile[@]}"
row "none" - "${profile[@]}"
row "BPF,PERFMON, podman's default seccomp" BPF,PERFMON
