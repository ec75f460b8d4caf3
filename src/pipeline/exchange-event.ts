/**
 * An exchange as the processors see it: the record's numbers plus an
 * Identity, the interned label values shared by every exchange of the same
 * service, side, method, route, status and outcome. Identities are built once
 * and found again through nested maps keyed by strings and numbers that are
 * themselves interned, so the hot path hashes no new string.
 *
 *   record bytes --ExchangeCursor--> Enricher.fill(events[i]) --> processors
 *
 * Events live in a pool owned by the shard; a processor must not keep one
 * after its process() returns.
 */
import { ExchangeFlags } from '../capture/abi';
import type { Direction, ExchangeCursor } from '../capture/decoder';
import type { SeriesCell } from './delta-table';
import type { RouteCache } from './route-cache';

export interface Identity {
  readonly service: string;
  readonly side: Direction;
  /** Server side: the local port; client side: the peer's. */
  readonly serverPort: string;
  readonly method: string;
  readonly route: string;
  readonly statusCode: string;
  /** "2xx" … "5xx", or "none" when the exchange ended without a status. */
  readonly statusClass: string;
  /** "4xx", "5xx", "reset", "aborted", or "" for a success. */
  readonly errorType: string;
  /** Why an aborted exchange ended: reset, closed, timeout, process_exit; "" otherwise. */
  readonly abortReason: string;
  /** The shard's cache of this identity's cells in its current bucket (valid while epoch matches). */
  epoch: number;
  readonly cells: (SeriesCell | null | undefined)[];
}

export interface ExchangeEvent {
  identity: Identity;
  /** Start of the event's finest bucket, Unix ms (by the end of the exchange). */
  bucketMs: number;
  durationSeconds: number;
  requestBytes: number;
  responseBytes: number;
  tgid: number;
  comm: string;
  /** The first exchange the kernel saw on its connection. */
  newConnection: boolean;
}

export const METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'PATCH', 'TRACE', 'DELETE', 'OPTIONS', 'CONNECT'] as const;
/** OpenTelemetry's name for a method outside the known set (or a head not captured). */
export const OTHER_METHOD = '_OTHER';

const METHOD_BYTES = METHODS.map((m) => Buffer.from(m + ' ', 'latin1'));

/** Index into METHODS of the request line's method, or METHODS.length when unknown. */
export function methodIndex(head: Uint8Array): number {
  for (let m = 0; m < METHOD_BYTES.length; m++) {
    const b = METHOD_BYTES[m];
    if (head.length < b.length) continue;
    let i = 0;
    while (i < b.length && head[i] === b[i]) i++;
    if (i === b.length) return m;
  }
  return METHODS.length;
}

function abortReasonOf(flags: number): string {
  if ((flags & ExchangeFlags.aborted) === 0) return '';
  if (flags & ExchangeFlags.reset) return 'reset';
  if (flags & ExchangeFlags.timeout) return 'timeout';
  if (flags & ExchangeFlags.processExit) return 'process_exit';
  return 'closed';
}

function errorTypeOf(abortReason: string, status: number): string {
  if (abortReason === 'reset') return 'reset';
  if (abortReason !== '') return 'aborted';
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  return '';
}

const OUTCOMES = ['', 'reset', 'timeout', 'process_exit', 'closed'];

/** Builds events from records, interning identities. One per shard. */
export class Enricher {
  private readonly routes: RouteCache;
  private readonly clockOffsetMs: number;
  private readonly resolutionMs: number;
  /** comm → (side, port) → route → (method, status, outcome) → Identity */
  private readonly tree = new Map<string, Map<number, Map<string, Map<number, Identity>>>>();
  private readonly services = new Map<string, string>();
  private identityCount = 0;
  /** Identities are a cache over bounded label values; past this many the tree is rebuilt. */
  private readonly maxIdentities: number;

  constructor(options: { routes: RouteCache; clockOffsetMs: number; resolutionMs: number; maxIdentities: number }) {
    this.routes = options.routes;
    this.clockOffsetMs = options.clockOffsetMs;
    this.resolutionMs = options.resolutionMs;
    this.maxIdentities = options.maxIdentities;
  }

  /** Fills `event` from the cursor's current record. */
  fill(c: ExchangeCursor, event: ExchangeEvent): void {
    const side = c.direction;
    const comm = c.comm;
    const flags = c.flags;
    const status = c.status;
    const port = side === 'server' ? c.localPort : c.peerPort;
    const head = c.head;
    const method = methodIndex(head);
    const route = this.routes.route(head, method < METHODS.length ? METHODS[method].length + 1 : -1);
    const outcome = OUTCOMES.indexOf(abortReasonOf(flags));

    event.identity = this.identity(comm, side, port, route, method, status, outcome);
    const endMs = c.endMonotimeMs + this.clockOffsetMs;
    event.bucketMs = endMs - (endMs % this.resolutionMs);
    event.durationSeconds = c.durationNs / 1e9;
    event.requestBytes = c.requestBytes;
    event.responseBytes = c.responseBytes;
    event.tgid = c.tgid;
    event.comm = comm;
    event.newConnection = (flags & ExchangeFlags.newConnection) !== 0;
  }

  private identity(comm: string, side: Direction, port: number, route: string, method: number, status: number, outcome: number): Identity {
    let byPort = this.tree.get(comm);
    if (!byPort) this.tree.set(comm, (byPort = new Map()));
    const portKey = side === 'server' ? port : port + 65536;
    let byRoute = byPort.get(portKey);
    if (!byRoute) byPort.set(portKey, (byRoute = new Map()));
    let byCode = byRoute.get(route);
    if (!byCode) byRoute.set(route, (byCode = new Map()));
    const code = (method * 1000 + status) * OUTCOMES.length + outcome;
    let id = byCode.get(code);
    if (!id) {
      if (++this.identityCount > this.maxIdentities) {
        this.tree.clear();
        this.identityCount = 0;
        return this.identity(comm, side, port, route, method, status, outcome);
      }
      id = this.makeIdentity(comm, side, port, route, method, status, OUTCOMES[outcome]);
      byCode.set(code, id);
    }
    return id;
  }

  private makeIdentity(comm: string, side: Direction, port: number, route: string, method: number, status: number, abortReason: string): Identity {
    const serviceKey = side === 'server' ? `${comm}:${port}` : comm;
    let service = this.services.get(serviceKey);
    if (service === undefined) {
      if (this.services.size >= this.maxIdentities) this.services.clear();
      this.services.set(serviceKey, (service = serviceKey));
    }
    return {
      service,
      side,
      serverPort: String(port),
      method: method < METHODS.length ? METHODS[method] : OTHER_METHOD,
      route,
      statusCode: String(status),
      statusClass: status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none',
      errorType: errorTypeOf(abortReason, status),
      abortReason,
      epoch: -1,
      cells: [],
    };
  }
}
