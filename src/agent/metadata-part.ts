/**
 * The agent's metadata part: what the node knows of the cluster, sent to the
 * engine's shards (src/metadata/). In Kubernetes it watches the node's pods
 * and the Services; elsewhere it says once that it names workloads by
 * container, systemd unit or process, and the shards do that on their own.
 */
import { nodeName } from '../config/node-name';
import type { Log } from '../log/logger';
import { kubernetesAccess, KubernetesWatch, type MetadataStatus } from '../metadata/kubernetes-watch';
import type { ClusterSnapshot } from '../metadata/cluster-snapshot';

export interface MetadataPart {
  status(): MetadataStatus;
  shutdown(): Promise<void>;
}

export async function startMetadata(env: NodeJS.ProcessEnv, toShards: (s: ClusterSnapshot) => void, log: Log): Promise<MetadataPart> {
  const access = kubernetesAccess(env);
  const node = nodeName(env);
  if (access.kind === 'none') {
    log.info(`metadata: ${access.reason}; services named by container, systemd unit or process`);
    const status: MetadataStatus = { source: 'none', detail: access.reason, node, pods: 0, services: 0, synced: false, lastError: null };
    return { status: () => status, shutdown: async () => undefined };
  }
  const watch = await KubernetesWatch.start(access, node, toShards, log);
  return { status: () => watch.status(), shutdown: () => watch.stop() };
}
