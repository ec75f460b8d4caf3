/**
 * The shard's answer to "whose exchange is this?": cgroup id → Workload, and a
 * client's peer address → a name. Runs on the shard's thread: the cgroup's
 * path is read from /proc or the cgroup tree once per cgroup (cgroup-paths.ts),
 * the cluster's pods and Services arrive from the main thread
 * (setCluster), and after the first exchange of a cgroup each answer is a map
 * lookup. The enricher asks once per new identity, not per exchange.
 *
 *   cgroup path --cgroupFacts--> container id, pod UID, systemd unit
 *     pod known (by container id, else by pod UID)  -> its workload (k8s labels; service = owner name)
 *     container outside Kubernetes                   -> its Docker/Podman name, where readable
 *     systemd service unit                            -> the unit's name
 *     otherwise                                       -> the process (comm[:port], as without metadata)
 */
import { cgroupFacts } from './cgroup-path';
import type { CgroupPaths } from './cgroup-paths';
import type { ClusterSnapshot, PodMeta } from './cluster-snapshot';
import { containerName, DEFAULT_RUNTIME_ROOTS, type RuntimeRoots } from './container-names';
import { kubernetesWorkload, namedWorkload, PROCESS_WORKLOAD, type Workload } from './workload';

const MAX_CACHED = 16_384;

export class WorkloadResolver {
  private readonly cgroups: CgroupPaths;
  private readonly runtimeRoots: RuntimeRoots;
  private readonly byCgroup = new Map<string, Workload>();
  private podsByUid = new Map<string, PodMeta>();
  private podsByContainer = new Map<string, { pod: PodMeta; container: string }>();
  private peersV4 = new Map<number, string>();
  private peersText = new Map<string, string>();

  constructor(cgroups: CgroupPaths, runtimeRoots: RuntimeRoots = DEFAULT_RUNTIME_ROOTS) {
    this.cgroups = cgroups;
    this.runtimeRoots = runtimeRoots;
  }

  /** Whether any peer has a name: without one the enricher does not look peers up. */
  get hasPeers(): boolean {
    return this.peersV4.size > 0 || this.peersText.size > 0;
  }

  /** Replaces what is known of the cluster; every cached answer is forgotten (a pod may now be known, or gone). */
  setCluster(snapshot: ClusterSnapshot): void {
    this.byCgroup.clear();
    this.podsByUid = new Map(snapshot.pods.map((p) => [p.uid, p]));
    this.podsByContainer = new Map(snapshot.pods.flatMap((pod) => pod.containers.flatMap((c) => (c.id ? [[c.id, { pod, container: c.name }] as const] : []))));
    const peers = new Map<string, string>();
    // A pod's IP names its workload: pods come and go, their workload stays.
    for (const p of snapshot.pods) for (const ip of p.ips) peers.set(ip, `${p.owner?.name ?? p.name}.${p.namespace}`);
    // A Service's ClusterIP is what a client dials through kube-proxy; it wins over a pod of the same IP (none should be).
    for (const s of snapshot.services) for (const ip of s.clusterIps) peers.set(ip, `${s.name}.${s.namespace}`);
    this.peersV4 = new Map();
    this.peersText = new Map();
    for (const [ip, name] of peers) {
      const v4 = ipv4Key(ip);
      if (v4 >= 0) this.peersV4.set(v4, name);
      else this.peersText.set(ip, name);
    }
  }

  /** The workload of a cgroup; `tgid` is a process that was in it (read first, before walking the tree). */
  workloadOf(cgroupId: string, tgid: number): Workload {
    let w = this.byCgroup.get(cgroupId);
    if (w === undefined) {
      w = this.resolve(cgroupId, tgid);
      if (this.byCgroup.size >= MAX_CACHED) this.byCgroup.clear();
      this.byCgroup.set(cgroupId, w);
    }
    return w;
  }

  /** The name ("api.shop") of an IPv4 peer (ipv4Key), or "" when unknown. */
  peerNameV4(v4: number): string {
    return this.peersV4.get(v4) ?? '';
  }

  /** The name of an IPv6 peer, by its address as formatAddress writes it, or "". */
  peerNameText(address: string): string {
    return this.peersText.get(address) ?? '';
  }

  private resolve(cgroupId: string, tgid: number): Workload {
    const path = this.cgroups.pathOf(cgroupId, tgid);
    if (path === undefined) return PROCESS_WORKLOAD;
    const facts = cgroupFacts(path);
    if (facts.containerId) {
      const known = this.podsByContainer.get(facts.containerId);
      if (known) return kubernetesWorkload({ namespace: known.pod.namespace, pod: known.pod.name, container: known.container, owner: known.pod.owner });
    }
    if (facts.podUid) {
      const pod = this.podsByUid.get(facts.podUid);
      // The kubelet reports a container's id a moment after it starts: until then, a pod of one container is still exact.
      if (pod) return kubernetesWorkload({ namespace: pod.namespace, pod: pod.name, container: pod.containers.length === 1 ? pod.containers[0].name : '', owner: pod.owner });
      return PROCESS_WORKLOAD;
    }
    if (facts.containerId) {
      const name = containerName(facts.runtime, facts.containerId, this.runtimeRoots);
      if (name) return namedWorkload(name, facts.runtime === 'docker' || facts.runtime === 'podman' ? facts.runtime : 'container');
      return PROCESS_WORKLOAD;
    }
    return facts.systemdUnit ? namedWorkload(facts.systemdUnit, 'systemd') : PROCESS_WORKLOAD;
  }
}

/** An IPv4 address (or IPv4-mapped IPv6) as the 32-bit key ExchangeCursor.peerIpv4 gives; -1 otherwise. */
export function ipv4Key(ip: string): number {
  const m = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(ip);
  if (!m) return -1;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return -1;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}
