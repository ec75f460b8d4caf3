/**
 * Container names outside Kubernetes, from the runtimes' own state where the
 * agent can read it (on a laptop or a plain Docker/Podman host; in a pod these
 * directories are not mounted and every lookup is a miss):
 *
 *   Docker  /var/lib/docker/containers/<id>/config.v2.json   Name "/web", Config.Labels
 *           (a Compose service's label com.docker.compose.service names it before the container name)
 *   Podman  /var/lib/containers/storage/overlay-containers/containers.json   [{ id, names: ["web"] }]
 */
import fs from 'node:fs';
import type { ContainerRuntime } from './cgroup-path';

const MAX_STATE_BYTES = 4 << 20;

export interface RuntimeRoots {
  docker: string;
  podman: string;
}

export const DEFAULT_RUNTIME_ROOTS: RuntimeRoots = { docker: '/var/lib/docker', podman: '/var/lib/containers/storage' };

/** The container's name, or undefined when the runtime's state is not readable here. */
export function containerName(runtime: ContainerRuntime | undefined, id: string, roots: RuntimeRoots = DEFAULT_RUNTIME_ROOTS): string | undefined {
  if (runtime === 'docker' || runtime === 'unknown') {
    const config = readJson(`${roots.docker}/containers/${id}/config.v2.json`) as { Name?: unknown; Config?: { Labels?: Record<string, unknown> } } | undefined;
    const compose = config?.Config?.Labels?.['com.docker.compose.service'];
    if (typeof compose === 'string' && compose) return compose;
    if (typeof config?.Name === 'string' && config.Name.length > 1) return config.Name.replace(/^\//, '');
  }
  if (runtime === 'podman' || runtime === 'unknown') {
    const list = readJson(`${roots.podman}/overlay-containers/containers.json`);
    if (Array.isArray(list)) {
      const entry = list.find((c: { id?: unknown }) => c?.id === id) as { names?: unknown } | undefined;
      const name = Array.isArray(entry?.names) ? entry.names[0] : undefined;
      if (typeof name === 'string' && name) return name;
    }
  }
  return undefined;
}

function readJson(file: string): unknown {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile() || stat.size > MAX_STATE_BYTES) return undefined;
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}
