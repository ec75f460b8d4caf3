/**
 * Exchanges as the processors see them: grouped, per batch, by Identity (the
 * interned label values shared by every exchange of one process, service,
 * side, method, route, status, outcome and scheme) and time bucket. Identities are
 * built once and found again through nested maps keyed by strings and numbers
 * that are themselves interned, so the hot path hashes no new string; a
 * group's counters are written once per batch, not once per exchange.
 *
 *   record bytes --ExchangeCursor--> Enricher.identityOf --> BatchGroups.add --> processors
 *
 * With a WorkloadResolver (src/metadata/), an identity also carries the
 * workload of the process's cgroup (the service name and the k8s labels) and,
 * client side, the peer's name; both are asked once per new identity.
 *
 * Groups live in a pool owned by the shard; a processor must not keep one
 * after its process() returns.
 */
import { errorTypeOf, type ErrorType } from '../analytics/red';
import { ExchangeFlags } from '../capture/abi';
import type { Direction, ExchangeCursor } from '../capture/decoder';
import type { WorkloadResolver } from '../metadata/workload-resolver';
import { PROCESS_WORKLOAD, type Workload } from '../metadata/workload';
import type { SeriesCell } from './delta-table';
import type { RouteCache } from './route-cache';

export interface Identity {
  readonly service: string;
  /** The k8s labels (WORKLOAD_LABELS' values; all "" outside Kubernetes). */
  readonly workload: Workload;
  /** Client side: the peer's name where the node knows it ("api.shop"); "" otherwise. */
  readonly serverAddress: string;
  readonly side: Direction;
  /** Server side: the local port; client side: the peer's. */
  readonly serverPort: string;
  readonly method: string;
  readonly route: string;
  readonly statusCode: string;
  /** "2xx" … "5xx", or "none" when the exchange ended without a status. */
  readonly statusClass: string;
  /** The one rule, src/analytics/red.ts: "5xx", "4xx" (client side), "reset", "aborted", or "" for a success. */
  readonly errorType: ErrorType;
  /** Why an aborted exchange ended: reset, closed, timeout, process_exit; "" otherwise. */
  readonly abortReason: string;
  /** "https" for an exchange read through the TLS uprobes (ExchangeFlags.tls), "http" otherwise. */
  readonly scheme: Scheme;
  /** The process (tgid), its name, and its cgroup when the identity was made. */
  readonly pid: string;
  readonly processName: string;
  readonly cgroupId: string;
  /** The same id as a number: an identity found again for a record of another cgroup (a reused pid) is made anew. */
  readonly cgroupNumber: number;
  /** The tgid as a number (pid's value). */
  readonly tgid: number;
  /** The shard's cache of this identity's cells in its current bucket (valid while epoch matches). */
  epoch: number;
  readonly cells: (SeriesCell | null | undefined)[];
  /** The group this identity's exchanges of the current batch go to (valid while groupBatch matches). */
  group: ExchangeGroup | undefined;
  groupBatch: number;
}

/** The exchanges of one batch with one identity and one time bucket. */
export interface ExchangeGroup {
  identity: Identity;
  /** Start of the finest bucket, Unix ms, by the end of the exchanges. */
  bucketMs: number;
  count: number;
  requestBytes: number;
  responseBytes: number;
  /** Per exchange, [0, count). */
  durationsSeconds: Float64Array;
  responseSizes: Float64Array;
}

export const METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'PATCH', 'TRACE', 'DELETE', 'OPTIONS', 'CONNECT'] as const;
/** OpenTelemetry's name for a method outside the known set (or a head not captured). */
export const OTHER_METHOD = '_OTHER';

const METHOD_BYTES = METHODS.map((m) => Buffer.from(m + ' ', 'latin1'));

/** Index into METHODS of the method of the head in bytes[start, end), or METHODS.length when unknown. */
export function methodIndex(bytes: Uint8Array, start: number, end: number): number {
  for (let m = 0; m < METHOD_BYTES.length; m++) {
    const b = METHOD_BYTES[m];
    if (end - start < b.length || bytes[start] !== b[0]) continue;
    let i = 0;
    while (i < b.length && bytes[start + i] === b[i]) i++;
    if (i === b.length) return m;
  }
  return METHODS.length;
}

export type Scheme = 'http' | 'https';
/** Schemes by the key's low bit (1: the TLS flag). */
const SCHEMES: readonly Scheme[] = ['http', 'https'];

/** Abort reasons by outcome index (0: not aborted). */
const OUTCOMES = ['', 'reset', 'timeout', 'process_exit', 'closed'];

function outcomeOf(flags: number): number {
  if ((flags & ExchangeFlags.aborted) === 0) return 0;
  if (flags & ExchangeFlags.reset) return 1;
  if (flags & ExchangeFlags.timeout) return 2;
  if (flags & ExchangeFlags.processExit) return 3;
  return 4;
}

/** The identity key's number part: method, status, outcome and scheme (its low bit). */
function codeOf(method: number, status: number, outcome: number, tls: number): number {
  return ((method * 1000 + status) * OUTCOMES.length + outcome) * 2 + tls;
}

const RECENT_BITS = 12;

/** A named workload is one service whatever its ports (server_port tells them apart); a process is named with its port on the server side. */
export function serviceNameOf(workload: Workload, comm: string, side: Direction, port: number): string {
  return workload.service !== '' ? workload.service : side === 'server' ? `${comm}:${port}` : comm;
}

/** Builds events from records, interning identities. One per shard. */
export class Enricher {
  private readonly routes: RouteCache;
  private readonly clockOffsetMs: number;
  private readonly resolutionMs: number;
  /** comm → (side, port) → tgid → peer name → route → (method, status, outcome, scheme) → Identity */
  private readonly tree = new Map<string, Map<number, Map<number, Map<string, Map<string, Map<number, Identity>>>>>>();
  private readonly services = new Map<string, string>();
  private readonly workloads: WorkloadResolver | undefined;
  private identityCount = 0;
  /** A direct-mapped cache over the tree: identity, and the code and port key it was found by. */
  private readonly recent: (Identity | undefined)[] = new Array(1 << RECENT_BITS).fill(undefined);
  private readonly recentCodes = new Int32Array(1 << RECENT_BITS);
  private readonly recentPorts = new Int32Array(1 << RECENT_BITS);
  /** Identities are a cache over bounded label values; past this many the tree is rebuilt. */
  private readonly maxIdentities: number;

  constructor(options: { routes: RouteCache; clockOffsetMs: number; resolutionMs: number; maxIdentities: number; workloads?: WorkloadResolver }) {
    this.routes = options.routes;
    this.workloads = options.workloads;
    this.clockOffsetMs = options.clockOffsetMs;
    this.resolutionMs = options.resolutionMs;
    this.maxIdentities = options.maxIdentities;
  }

  /** The identity of the cursor's current record. */
  identityOf(c: ExchangeCursor): Identity {
    const side = c.direction;
    const status = c.status;
    const port = side === 'server' ? c.localPort : c.peerPort;
    const bytes = c.batchBytes;
    const headStart = c.headStart;
    const headEnd = c.headEnd;
    const method = methodIndex(bytes, headStart, headEnd);
    const route = this.routes.route(bytes, headStart, headEnd, method < METHODS.length ? headStart + METHODS[method].length + 1 : -1);
    const w = this.workloads;
    let peer = '';
    if (side === 'client' && w !== undefined && w.hasPeers) {
      const v4 = c.peerIpv4;
      peer = v4 >= 0 ? w.peerNameV4(v4) : w.peerNameText(c.peerAddress);
    }
    const comm = c.comm;
    const tgid = c.tgid;
    const flags = c.flags;
    const outcome = outcomeOf(flags);
    const tls = (flags & ExchangeFlags.tls) === 0 ? 0 : 1;
    // The recent identities, direct-mapped: one slot read and a few compares instead of the tree's six lookups.
    const portKey = side === 'server' ? port : port + 65536;
    const code = codeOf(method, status, outcome, tls);
    const slot = Math.imul(tgid ^ Math.imul(portKey, 0x9e3779b1) ^ Math.imul(code, 0x85ebca6b) ^ this.routes.hash, 0x27d4eb2d) >>> (32 - RECENT_BITS);
    const recent = this.recent[slot];
    if (
      recent !== undefined &&
      this.recentCodes[slot] === code &&
      this.recentPorts[slot] === portKey &&
      recent.tgid === tgid &&
      recent.route === route &&
      recent.processName === comm &&
      recent.serverAddress === peer &&
      recent.cgroupNumber === c.cgroupIdNumber
    ) {
      return recent;
    }
    const id = this.identity(c, comm, tgid, side, port, peer, route, method, status, outcome, tls);
    this.recent[slot] = id;
    this.recentCodes[slot] = code;
    this.recentPorts[slot] = portKey;
    return id;
  }

  /** Forgets every identity: the workloads they carry may have changed (the cluster's pods did). */
  forgetIdentities(): void {
    this.tree.clear();
    this.recent.fill(undefined);
    this.identityCount = 0;
  }

  /** Start of the record's bucket, Unix ms. */
  bucketOf(c: ExchangeCursor): number {
    const endMs = c.endMonotimeMs + this.clockOffsetMs;
    return endMs - (endMs % this.resolutionMs);
  }

  private identity(c: ExchangeCursor, comm: string, tgid: number, side: Direction, port: number, peer: string, route: string, method: number, status: number, outcome: number, tls: number): Identity {
    let byPort = this.tree.get(comm);
    if (!byPort) this.tree.set(comm, (byPort = new Map()));
    const portKey = side === 'server' ? port : port + 65536;
    let byProcess = byPort.get(portKey);
    if (!byProcess) byPort.set(portKey, (byProcess = new Map()));
    let byPeer = byProcess.get(tgid);
    if (!byPeer) byProcess.set(tgid, (byPeer = new Map()));
    let byRoute = byPeer.get(peer);
    if (!byRoute) byPeer.set(peer, (byRoute = new Map()));
    let byCode = byRoute.get(route);
    if (!byCode) byRoute.set(route, (byCode = new Map()));
    const code = codeOf(method, status, outcome, tls);
    let id = byCode.get(code);
    const cgroup = c.cgroupIdNumber;
    if (!id || id.cgroupNumber !== cgroup) {
      if (++this.identityCount > this.maxIdentities) {
        this.forgetIdentities();
        return this.identity(c, comm, tgid, side, port, peer, route, method, status, outcome, tls);
      }
      const cgroupId = c.cgroupId;
      const workload = this.workloads?.workloadOf(cgroupId, tgid) ?? PROCESS_WORKLOAD;
      id = this.makeIdentity(comm, tgid, cgroupId, cgroup, workload, side, port, peer, route, method, status, OUTCOMES[outcome], SCHEMES[tls]);
      byCode.set(code, id);
    }
    return id;
  }

  private makeIdentity(
    comm: string,
    tgid: number,
    cgroupId: string,
    cgroupNumber: number,
    workload: Workload,
    side: Direction,
    port: number,
    peer: string,
    route: string,
    method: number,
    status: number,
    abortReason: string,
    scheme: Scheme,
  ): Identity {
    const serviceKey = serviceNameOf(workload, comm, side, port);
    let service = this.services.get(serviceKey);
    if (service === undefined) {
      if (this.services.size >= this.maxIdentities) this.services.clear();
      this.services.set(serviceKey, (service = serviceKey));
    }
    return {
      service,
      workload,
      serverAddress: peer,
      side,
      serverPort: String(port),
      method: method < METHODS.length ? METHODS[method] : OTHER_METHOD,
      route,
      statusCode: String(status),
      statusClass: status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none',
      errorType: errorTypeOf(side, status, abortReason),
      abortReason,
      scheme,
      pid: String(tgid),
      processName: comm,
      cgroupId,
      cgroupNumber,
      tgid,
      epoch: -1,
      cells: [],
      group: undefined,
      groupBatch: -1,
    };
  }
}

/**
 * The groups of one batch, from a pool reused batch after batch.
 *
 *   begin() → add(identity, bucket, …) per record → groups[0, count) → processors
 */
export class BatchGroups {
  readonly groups: ExchangeGroup[] = [];
  count = 0;
  /** Bumped by begin(): an identity's group is this batch's while its groupBatch matches. */
  batch = 0;

  begin(): void {
    this.count = 0;
    this.batch++;
  }

  add(identity: Identity, bucketMs: number, durationSeconds: number, requestBytes: number, responseBytes: number): void {
    let g = identity.group;
    if (identity.groupBatch !== this.batch || g === undefined || g.bucketMs !== bucketMs) g = this.open(identity, bucketMs);
    const k = g.count++;
    if (k === g.durationsSeconds.length) this.grow(g);
    g.durationsSeconds[k] = durationSeconds;
    g.responseSizes[k] = responseBytes;
    g.requestBytes += requestBytes;
    g.responseBytes += responseBytes;
  }

  /** A new group for the identity's exchanges in this bucket, from the pool; the identity points at it. */
  open(identity: Identity, bucketMs: number): ExchangeGroup {
    if (this.count === this.groups.length) this.groups.push(emptyGroup());
    const g = this.groups[this.count++];
    g.identity = identity;
    g.bucketMs = bucketMs;
    g.count = g.requestBytes = g.responseBytes = 0;
    identity.group = g;
    identity.groupBatch = this.batch;
    return g;
  }

  /** Doubles the group's per-exchange arrays (they are kept, pool and all, batch after batch). */
  grow(g: ExchangeGroup): void {
    g.durationsSeconds = grown(g.durationsSeconds);
    g.responseSizes = grown(g.responseSizes);
  }
}

function emptyGroup(): ExchangeGroup {
  return { identity: undefined as never, bucketMs: 0, count: 0, requestBytes: 0, responseBytes: 0, durationsSeconds: new Float64Array(8), responseSizes: new Float64Array(8) };
}

/** A copy twice as long (a group's per-event values, when they outgrow their array). */
export function grown(values: Float64Array): Float64Array {
  const next = new Float64Array(values.length * 2);
  next.set(values);
  return next;
}
