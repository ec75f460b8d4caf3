/**
 * Who an exchange belongs to: the workload of the process's cgroup, as the
 * labels every HTTP and network series carries. Outside Kubernetes the k8s
 * labels are empty (exporters leave empty labels out) and the service name
 * comes from the container runtime, the systemd unit, or the process.
 */

/** The identity labels, OpenTelemetry's names (dots as underscores), in the order Workload.labels holds them. */
export const WORKLOAD_LABELS = [
  'k8s_namespace_name',
  'k8s_pod_name',
  'k8s_container_name',
  'k8s_deployment_name',
  'k8s_statefulset_name',
  'k8s_daemonset_name',
  'k8s_cronjob_name',
  'k8s_job_name',
] as const;

export type WorkloadLabel = (typeof WORKLOAD_LABELS)[number];

/** The controllers a pod's owner resolves to, each with its own label. */
export type WorkloadKind = 'deployment' | 'statefulset' | 'daemonset' | 'cronjob' | 'job';

/** Where the service name came from; /api/health counts exchanges' workloads by it. */
export type WorkloadSource = 'kubernetes' | 'docker' | 'podman' | 'container' | 'systemd' | 'process';

export interface Workload {
  /** The service name, or "" to name it after the process (comm, and the port on the server side). */
  readonly service: string;
  readonly source: WorkloadSource;
  /** Values of WORKLOAD_LABELS, in that order; one frozen array shared by every identity of the workload. */
  readonly labels: readonly string[];
}

export interface KubernetesIdentity {
  namespace: string;
  pod: string;
  container: string;
  /** The owning controller; absent for a bare pod. */
  owner?: { kind: WorkloadKind; name: string };
}

const NO_LABELS: readonly string[] = Object.freeze(WORKLOAD_LABELS.map(() => ''));

/** A process outside any known container or unit: named after itself. */
export const PROCESS_WORKLOAD: Workload = Object.freeze({ service: '', source: 'process', labels: NO_LABELS });

/** A named workload outside Kubernetes (a container name, a systemd unit). */
export function namedWorkload(service: string, source: Exclude<WorkloadSource, 'kubernetes' | 'process'>): Workload {
  return Object.freeze({ service, source, labels: NO_LABELS });
}

/** A pod's container: the service is the owning workload's name, else the pod's. */
export function kubernetesWorkload(k: KubernetesIdentity): Workload {
  const labels: string[] = [k.namespace, k.pod, k.container, '', '', '', '', ''];
  if (k.owner) labels[WORKLOAD_LABELS.indexOf(`k8s_${k.owner.kind}_name`)] = k.owner.name;
  return Object.freeze({ service: k.owner?.name ?? k.pod, source: 'kubernetes', labels: Object.freeze(labels) });
}
