/**
 * The pods on this node and the cluster's Services, from the Kubernetes API
 * (list, then watch, through @kubernetes/client-node's ListWatch), as
 * ClusterSnapshots for the shards. Runs on the main thread.
 *
 *   pods      GET /api/v1/pods?fieldSelector=spec.nodeName=<node>   (watch: the same, watch=true)
 *   services  GET /api/v1/services                                   (for peer names by ClusterIP)
 *
 * Where the API is: the pod's service account (KUBERNETES_SERVICE_HOST and
 * the mounted token), or a kubeconfig file named by HTTP_TRACER_KUBECONFIG.
 * Neither: no Kubernetes, and the agent says so once. A watch that fails
 * (API down, 403) is retried with backoff; the last snapshot stays in use.
 * Its errors are logged once per change (a new error, or working again),
 * not at every retry.
 */
import type * as K8s from '@kubernetes/client-node';
import fs from 'node:fs';
import { ChangeLog } from '../log/change-log';
import type { Log } from '../log/logger';
import { EMPTY_CLUSTER, podMeta, serviceMeta, type ClusterSnapshot, type PodObject, type ServiceObject } from './cluster-snapshot';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** How long start() waits for the first lists, so the first exchanges already carry their pods. */
const FIRST_SYNC_MS = 5_000;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/**
 * Changes are coalesced into one snapshot: the pods' within a turn of the
 * event loop (a list's items arrive as one add each), the Services' within a
 * second (their churn is cluster-wide).
 */
const POD_COALESCE_MS = 0;
const SERVICE_COALESCE_MS = 1_000;

export interface MetadataStatus {
  /** "kubernetes" once the API answered; "none" outside Kubernetes. */
  source: 'kubernetes' | 'none';
  /** Why there is no Kubernetes metadata, or where it comes from. */
  detail: string;
  node: string;
  pods: number;
  services: number;
  /** Both lists have been read at least once. */
  synced: boolean;
  lastError: string | null;
}

/** Where the API is, or why there is none. */
export type KubernetesAccess = { kind: 'in-cluster' } | { kind: 'kubeconfig'; file: string } | { kind: 'none'; reason: string };

export function kubernetesAccess(env: NodeJS.ProcessEnv, tokenFile = SERVICE_ACCOUNT_TOKEN): KubernetesAccess {
  if (env.HTTP_TRACER_KUBECONFIG) return { kind: 'kubeconfig', file: env.HTTP_TRACER_KUBECONFIG };
  if (env.KUBERNETES_SERVICE_HOST && fs.existsSync(tokenFile)) return { kind: 'in-cluster' };
  return { kind: 'none', reason: 'no Kubernetes (no service account token, HTTP_TRACER_KUBECONFIG not set)' };
}

interface Watched {
  list(): readonly unknown[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class KubernetesWatch {
  private readonly node: string;
  private readonly onSnapshot: (s: ClusterSnapshot) => void;
  /** Each watch's error ("pods", "services"), logged when it changes. */
  private readonly errors: ChangeLog<string>;
  private readonly watches: Watched[] = [];
  private readonly synced = new Set<string>();
  private lastError: string | null = null;
  private snapshot: ClusterSnapshot = EMPTY_CLUSTER;
  private publishTimer: NodeJS.Timeout | undefined;
  private publishAt = Infinity;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly retryMs = new Map<string, number>();
  private stopped = false;

  private constructor(node: string, onSnapshot: (s: ClusterSnapshot) => void, log: Log) {
    this.node = node;
    this.onSnapshot = onSnapshot;
    this.errors = new ChangeLog<string>({
      changed: (watch, error) => log.warn({ watch, error }, `kubernetes: watch of ${watch}: ${error}; retrying`),
      cleared: (watch) => log.info({ watch }, `kubernetes: watch of ${watch} works again`),
    });
  }

  /** Lists and watches; resolves after the first lists (or FIRST_SYNC_MS). Never throws for an API that is down: it retries. */
  static async start(access: Exclude<KubernetesAccess, { kind: 'none' }>, node: string, onSnapshot: (s: ClusterSnapshot) => void, log: Log): Promise<KubernetesWatch> {
    // Loaded only here: outside Kubernetes the agent does not pay for the client's start-up.
    const k8s = await import('@kubernetes/client-node');
    const config = new k8s.KubeConfig();
    if (access.kind === 'in-cluster') config.loadFromCluster();
    else config.loadFromFile(access.file);
    const core = config.makeApiClient(k8s.CoreV1Api);
    const watch = new KubernetesWatch(node, onSnapshot, log);
    const fieldSelector = `spec.nodeName=${node}`;
    const pods = new k8s.ListWatch<K8s.V1Pod>('/api/v1/pods', new k8s.Watch(config), watch.listed('pods', () => core.listPodForAllNamespaces({ fieldSelector })), false, undefined, fieldSelector);
    const services = new k8s.ListWatch<K8s.V1Service>('/api/v1/services', new k8s.Watch(config), watch.listed('services', () => core.listServiceForAllNamespaces()), false);
    watch.follow('pods', pods, () => watch.publishWithin(POD_COALESCE_MS));
    watch.follow('services', services, () => watch.publishWithin(SERVICE_COALESCE_MS));
    // Not awaited: a list to an address that does not answer waits for the connection's own timeout.
    void pods.start();
    void services.start();
    const deadline = Date.now() + FIRST_SYNC_MS;
    while (watch.synced.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (watch.synced.size === 2) log.info({ node, pods: watch.snapshot.pods.length, services: watch.snapshot.services.length }, `kubernetes: watching ${watch.snapshot.pods.length} pods on node ${node} and ${watch.snapshot.services.length} services`);
    else log.warn({ node }, `kubernetes: the API has not answered yet (${watch.lastError ?? 'no answer'}); exchanges are named by process until it does`);
    return watch;
  }

  status(): MetadataStatus {
    return {
      source: 'kubernetes',
      detail: `pods on node ${this.node} and services, from the Kubernetes API`,
      node: this.node,
      pods: this.snapshot.pods.length,
      services: this.snapshot.services.length,
      synced: this.synced.size === 2,
      lastError: this.lastError,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.publishTimer);
    for (const t of this.retryTimers) clearTimeout(t);
    await Promise.all(this.watches.map((w) => w.stop().catch(() => undefined)));
  }

  private follow(name: string, informer: Watched & { on(event: string, cb: (arg?: unknown) => void): void }, changed: () => void): void {
    this.watches.push(informer);
    for (const event of ['add', 'update', 'delete']) informer.on(event, changed);
    informer.on('error', (e) => {
      const error = errorText(e);
      this.errors.set(name, error);
      this.lastError = `${name}: ${error}`;
      if (this.stopped) return;
      const retryMs = this.retryMs.get(name) ?? RETRY_MIN_MS;
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        if (!this.stopped) void informer.start();
      }, retryMs);
      this.retryTimers.add(timer);
      this.retryMs.set(name, Math.min(retryMs * 2, RETRY_MAX_MS));
    });
  }

  /**
   * The list function a ListWatch calls (at start and whenever its watch
   * must start over): once the ListWatch has taken the list in (right after
   * the promise settles), the list is the truth and a snapshot goes out at
   * once (also for Services: a list is rare, and the first one is awaited).
   */
  private listed<T>(name: string, list: () => Promise<T>): () => Promise<T> {
    return () =>
      list().then((result) => {
        setImmediate(() => {
          this.synced.add(name);
          this.retryMs.set(name, RETRY_MIN_MS);
          this.errors.set(name, undefined);
          this.publish();
        });
        return result;
      });
  }

  /** A snapshot within `ms`, with every change until then (an earlier one already planned stands). */
  private publishWithin(ms: number): void {
    const at = Date.now() + ms;
    if (at >= this.publishAt) return;
    clearTimeout(this.publishTimer);
    this.publishAt = at;
    this.publishTimer = setTimeout(() => this.publish(), ms);
  }

  private publish(): void {
    clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    this.publishAt = Infinity;
    if (this.stopped) return;
    const [pods, services] = this.watches;
    this.snapshot = {
      pods: pods.list().flatMap((p) => podMeta(p as PodObject) ?? []),
      services: services.list().flatMap((s) => serviceMeta(s as ServiceObject) ?? []),
    };
    this.onSnapshot(this.snapshot);
  }
}

/**
 * An error as one stable line: "403 services is forbidden". client-node's
 * ApiException puts the response's headers (a Date among them) in its
 * message, which would make every retry a "new" error; the Status body's
 * message says what went wrong.
 */
function errorText(e: unknown): string {
  const err = e as { statusCode?: number; code?: number | string; message?: string; body?: unknown } | undefined;
  const status = err?.statusCode ?? err?.code;
  let body = err?.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not a Status object: the message's first line is used
    }
  }
  const statusMessage = (body as { message?: unknown } | undefined)?.message;
  const message = typeof statusMessage === 'string' ? statusMessage : (err?.message ?? String(e)).split('\n')[0];
  return (status !== undefined ? `${status} ${message}` : message).slice(0, 300);
}
