#!/usr/bin/env bash
# The agent's memory and CPU in its container under load: the image run with
# the DaemonSet's settings and config (as test/kernel/container-image.test.ts
# runs it, host network standing in for the pod's), the demo service on the
# host, and load at each RATE (requests per second, the demo's generator) for
# SECONDS each, then wrk -c32 as fast as it goes. Prints the agent's RSS, its
# high-water mark, the container's memory cgroup use and CPU (all threads)
# per phase. Loopback only. Needs root, podman, wrk; builds the stand-in
# image unless given one.
#
#   deploy/image/measure-load.sh [IMAGE] [SECONDS] [RATE...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
image=${1:-}; seconds=${2:-30}; shift $(( $# > 2 ? 2 : $# )); rates=("${@:-20 200}")
rates=(${rates[*]})
name=ebpf-http-tracer-load-$$
scratch=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  podman --runtime runc rm -f -t 5 "$name" >/dev/null 2>&1 || true
  [ -n "${built:-}" ] && podman image rm -f "$image" >/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT
if [ -z "$image" ]; then image=localhost/ebpf-http-tracer-load-$$; built=1; "$here/test-image.sh" "$image" >/dev/null; fi

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
agent_port=$(free_port); service_port=$(free_port)
mkdir -p "$scratch/config" "$scratch/data"
(cd "$repo" && node -e "const y=require('yaml');process.stdout.write(y.parse(require('fs').readFileSync('deploy/kubernetes/configmap.yaml','utf8')).data['config.json'])") >"$scratch/config/config.json"

podman --runtime runc run -d --name "$name" --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --pid=host --network=host \
  --cap-drop=ALL --cap-add=BPF,PERFMON --read-only --read-only-tmpfs=false --security-opt no-new-privileges \
  --security-opt "seccomp=$here/../seccomp/ebpf-http-tracer.json" --memory=512m \
  -v "$scratch/config:/etc/ebpf-http-tracer:ro" -v /sys/kernel/tracing:/sys/kernel/tracing:ro -v /sys/kernel/debug:/sys/kernel/debug:ro \
  -v /sys/fs/cgroup:/sys/fs/cgroup:ro -v "$scratch/data:/var/lib/ebpf-http-tracer" --tmpfs /tmp \
  -e HTTP_TRACER_ANALYTICS_DASHBOARD_PORT="$agent_port" -e HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS=127.0.0.1 \
  "$image" run --config /etc/ebpf-http-tracer/config.json >/dev/null
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$agent_port/api/health" >/dev/null && break; sleep 0.5; done
pid=$(podman --runtime runc inspect --format '{{.State.Pid}}' "$name")
memcg=/sys/fs/cgroup/memory$(awk -F: '$2=="memory"{print $3}' "/proc/$pid/cgroup")
[ -d "$memcg" ] || memcg=/sys/fs/cgroup$(awk -F: '$1=="0"{print $3}' "/proc/$pid/cgroup")
hz=$(getconf CLK_TCK)

node "$repo/dist/demo/service.js" "$service_port" >/dev/null & pids+=($!)
sleep 1

ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
kb() { awk -v k="$1:" '$1==k{print $2}' "/proc/$pid/status"; }
cgroup_mb() { local f; for f in memory.usage_in_bytes memory.current; do [ -f "$memcg/$f" ] && { echo $(( $(cat "$memcg/$f") / 1048576 )); return; }; done; echo '?'; }
requests() { curl -s "http://127.0.0.1:$agent_port/metrics" | awk -v p="server_port=\"$service_port\"" '/^http_requests_total\{/ && /side="server"/ && index($0,p){n+=$NF} END{print n+0}'; }
phase() { # LABEL COMMAND...: CPU over the command's run; requests once one flush interval (10 s in the config) later
  local label=$1; shift
  local t0 c0 r0 t1 c1 r1; t0=$(date +%s.%N); c0=$(ticks); r0=$(requests)
  "$@" >"$scratch/out" 2>&1 || true
  t1=$(date +%s.%N); c1=$(ticks)
  sleep 11
  r1=$(requests)
  printf '%-20s %8d req %7.0f req/s  cpu %5.1f%%  rss %4d MiB  hwm %4d MiB  cgroup %4s MiB\n' "$label" $((r1 - r0)) \
    "$(echo "($r1 - $r0) / ($t1 - $t0)" | bc -l)" "$(echo "100 * ($c1 - $c0) / $hz / ($t1 - $t0)" | bc -l)" \
    $(( $(kb VmRSS) / 1024 )) $(( $(kb VmHWM) / 1024 )) "$(cgroup_mb)"
}
phase idle sleep "$seconds"
for rate in "${rates[@]}"; do
  phase "demo load $rate/s" timeout "$seconds" node "$repo/dist/demo/load.js" "$service_port" "$rate"
done
phase "wrk -t1 -c32" wrk -t1 -c32 -d"${seconds}s" "http://127.0.0.1:$service_port/health"
grep -E 'requests in|Requests/sec' "$scratch/out" | sed 's/^ */wrk: /'
curl -s "http://127.0.0.1:$agent_port/api/health" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const h=JSON.parse(s);console.log('health:',h.status,'lost',JSON.stringify(h.lost))})"
