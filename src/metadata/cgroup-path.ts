/**
 * What a cgroup v2 path says about its processes: the container (and which
 * runtime made it), the Kubernetes pod, or the systemd unit. Pure text; the
 * path is the one in /proc/<pid>/cgroup ("0::<path>"), which in a container
 * with its own cgroup namespace may start with "/..": only the last segments
 * are read.
 *
 *   containerd  /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
 *               /kubepods/burstable/pod<uid>/<id>                      (cgroupfs driver)
 *   CRI-O       .../crio-<id>.scope, .../crio-<id>                     (crio-conmon-<id>: the monitor, not the container)
 *   Docker      /system.slice/docker-<id>.scope, /docker/<id>
 *   Podman      /machine.slice/libpod-<id>.scope, /libpod_parent/libpod-<id>   (libpod-conmon-<id>: the monitor)
 *   systemd     /system.slice/nginx.service
 */

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker' | 'podman' | 'unknown';

export interface CgroupFacts {
  /** 64 lowercase hex digits. */
  containerId?: string;
  runtime?: ContainerRuntime;
  /** The pod's UID (with dashes), from a kubepods path. */
  podUid?: string;
  /** The innermost systemd service unit, without ".service" (outside containers). */
  systemdUnit?: string;
}

const ID = '([0-9a-f]{64})';
const CONTAINER_SEGMENTS: readonly [RegExp, ContainerRuntime][] = [
  [new RegExp(`^cri-containerd-${ID}\\.scope$`), 'containerd'],
  [new RegExp(`^crio-${ID}(?:\\.scope)?$`), 'cri-o'],
  [new RegExp(`^docker-${ID}\\.scope$`), 'docker'],
  [new RegExp(`^libpod-${ID}(?:\\.scope)?$`), 'podman'],
  [new RegExp(`^${ID}$`), 'unknown'],
];
const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

export function cgroupFacts(path: string): CgroupFacts {
  const segments = path.split('/').filter((s) => s !== '' && s !== '..');
  const facts: CgroupFacts = {};
  // The innermost container wins: a container may nest scopes of its own below it.
  for (let i = segments.length - 1; i >= 0 && !facts.containerId; i--) {
    for (const [pattern, runtime] of CONTAINER_SEGMENTS) {
      const m = pattern.exec(segments[i]);
      if (!m) continue;
      facts.containerId = m[1];
      // A bare id: the runtime shows in a parent ("/docker/<id>", "/kubepods/...").
      facts.runtime = runtime === 'unknown' && segments[i - 1] === 'docker' ? 'docker' : runtime;
      break;
    }
  }
  if (segments.some((s) => s.startsWith('kubepods'))) {
    for (const s of segments) {
      const m = POD_UID.exec(s);
      if (m) facts.podUid = m[1].replaceAll('_', '-');
    }
  }
  if (!facts.containerId && !facts.podUid) {
    const unit = [...segments].reverse().find((s) => s.endsWith('.service') && !/^user@\d+\.service$/.test(s));
    if (unit) facts.systemdUnit = unit.slice(0, -'.service'.length);
  }
  return facts;
}

/** A container id from a pod's status ("containerd://<id>", "cri-o://<id>", "docker://<id>"), or undefined. */
export function statusContainerId(id: string | undefined): string | undefined {
  const m = id ? /^[a-z-]+:\/\/([0-9a-f]{64})$/.exec(id) : null;
  return m ? m[1] : undefined;
}
