/**
 * What the node knows of the cluster, as plain data the main thread sends to
 * every shard: the pods on this node (by UID, with their containers' ids and
 * their owning workload) and every Service's cluster IPs, for peer names.
 * Built from the Kubernetes API's objects (kubernetes-watch.ts); pure.
 */
import { statusContainerId } from './cgroup-path';
import type { KubernetesIdentity, WorkloadKind } from './workload';

export interface PodMeta {
  uid: string;
  namespace: string;
  name: string;
  /** Every container of the spec (init and ephemeral ones too), with its runtime id once the kubelet has reported it. */
  containers: { name: string; id?: string }[];
  owner?: { kind: WorkloadKind; name: string };
  /** The pod's own IPs (none for a hostNetwork pod: its IP is the node's). */
  ips: string[];
}

export interface ServiceMeta {
  namespace: string;
  name: string;
  clusterIps: string[];
}

export interface ClusterSnapshot {
  pods: PodMeta[];
  services: ServiceMeta[];
}

export const EMPTY_CLUSTER: ClusterSnapshot = { pods: [], services: [] };

/** The subset of the API's Pod that is read (V1Pod). */
export interface PodObject {
  metadata?: { uid?: string; name?: string; namespace?: string; labels?: Record<string, string>; ownerReferences?: { kind?: string; name?: string; controller?: boolean }[] };
  spec?: { hostNetwork?: boolean; containers?: { name?: string }[]; initContainers?: { name?: string }[]; ephemeralContainers?: { name?: string }[] };
  status?: {
    podIPs?: { ip?: string }[];
    podIP?: string;
    containerStatuses?: { name?: string; containerID?: string }[];
    initContainerStatuses?: { name?: string; containerID?: string }[];
    ephemeralContainerStatuses?: { name?: string; containerID?: string }[];
  };
}

/** The subset of the API's Service that is read (V1Service). */
export interface ServiceObject {
  metadata?: { name?: string; namespace?: string };
  spec?: { clusterIP?: string; clusterIPs?: string[] };
}

/** A pod as the shards need it; undefined for an object without uid, name or namespace. */
export function podMeta(pod: PodObject): PodMeta | undefined {
  const m = pod.metadata;
  if (!m?.uid || !m.name || !m.namespace) return undefined;
  const ids = new Map<string, string>();
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.ephemeralContainerStatuses ?? [])];
  for (const s of statuses) {
    const id = statusContainerId(s.containerID);
    if (s.name && id) ids.set(s.name, id);
  }
  const specContainers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
  const containers = specContainers.flatMap((c) => (c.name ? [{ name: c.name, ...(ids.has(c.name) ? { id: ids.get(c.name) } : {}) }] : []));
  const ips = pod.spec?.hostNetwork ? [] : (pod.status?.podIPs?.map((p) => p.ip ?? '') ?? [pod.status?.podIP ?? '']).filter((ip) => ip !== '');
  const owner = ownerOf(m.labels ?? {}, m.ownerReferences ?? []);
  return { uid: m.uid, namespace: m.namespace, name: m.name, containers, ips, ...(owner ? { owner } : {}) };
}

/**
 * The workload that owns a pod, from its controller reference alone (the
 * agent may read pods and services, nothing else):
 *   ReplicaSet "web-5d8f7c9b4" with the pod's pod-template-hash "5d8f7c9b4" -> Deployment "web"
 *   Job "backup-28934820" (a CronJob's job: its name, then the scheduled minute) -> CronJob "backup"
 *   StatefulSet, DaemonSet, Job -> themselves
 * A ReplicaSet of no Deployment, or another kind of controller: no owner (the pod names the service).
 */
export function ownerOf(labels: Record<string, string>, refs: readonly { kind?: string; name?: string; controller?: boolean }[]): KubernetesIdentity['owner'] {
  const ref = refs.find((r) => r.controller) ?? refs[0];
  if (!ref?.name) return undefined;
  const hash = labels['pod-template-hash'];
  switch (ref.kind) {
    case 'ReplicaSet':
      return hash && ref.name.endsWith(`-${hash}`) ? { kind: 'deployment', name: ref.name.slice(0, -hash.length - 1) } : undefined;
    case 'StatefulSet':
      return { kind: 'statefulset', name: ref.name };
    case 'DaemonSet':
      return { kind: 'daemonset', name: ref.name };
    case 'Job': {
      const cron = /^(.+)-\d{8,}$/.exec(ref.name);
      return cron ? { kind: 'cronjob', name: cron[1] } : { kind: 'job', name: ref.name };
    }
    default:
      return undefined;
  }
}

export function serviceMeta(service: ServiceObject): ServiceMeta | undefined {
  const m = service.metadata;
  if (!m?.name || !m.namespace) return undefined;
  const ips = (service.spec?.clusterIPs ?? [service.spec?.clusterIP ?? '']).filter((ip) => ip !== '' && ip !== 'None');
  return { namespace: m.namespace, name: m.name, clusterIps: ips };
}
