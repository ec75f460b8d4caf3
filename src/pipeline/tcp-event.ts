/**
 * TCP events as the processors see them: grouped, per batch, by TcpIdentity
 * (process, cgroup, side, service port and peer) and time bucket, like
 * exchanges (exchange-event.ts). One identity per connection's owner and
 * peer, found again through nested maps keyed by numbers (the peer's IPv4
 * address as a number), so the hot path hashes no new string.
 *
 *   record bytes --ExchangeCursor.nextRecord() = RECORD_TCP--> TcpEnricher.identityOf(cursor.tcp)
 *                --> TcpGroups.add --> processors' processTcp
 *
 * The service is named as for exchanges (serviceNameOf): the same process
 * on the same port is the same service in HTTP and TCP families.
 */
import { TcpKinds } from '../capture/abi';
import { connectFailureReason, type ConnectFailureReason, type Direction, type TcpEventReader } from '../capture/decoder';
import type { WorkloadResolver } from '../metadata/workload-resolver';
import { PROCESS_WORKLOAD, type Workload } from '../metadata/workload';
import type { SeriesCell } from './delta-table';
import { grown, serviceNameOf } from './exchange-event';

export interface TcpIdentity {
  readonly service: string;
  readonly workload: Workload;
  readonly side: Direction;
  /** Server side: the local port; client side: the peer's. */
  readonly serverPort: string;
  /** The peer by name where the node knows it, else its address. */
  readonly peer: string;
  readonly processName: string;
  readonly tgid: number;
  readonly cgroupNumber: number;
  /** The shard's cache of this identity's cells in its current bucket (valid while epoch matches). */
  epoch: number;
  readonly cells: (SeriesCell | null | undefined)[];
  group: TcpGroup | undefined;
  groupBatch: number;
}

/** Connect failure reasons, in the order of TcpGroup.failures. */
export const CONNECT_FAILURE_REASONS: readonly ConnectFailureReason[] = ['refused', 'timeout', 'unreachable', 'reset', 'aborted', 'error'];
const REASON_INDEX = new Map(CONNECT_FAILURE_REASONS.map((r, i) => [r, i]));

/** The TCP events of one batch with one identity and one time bucket. */
export interface TcpGroup {
  identity: TcpIdentity;
  /** Start of the finest bucket, Unix ms, by the time of the events. */
  bucketMs: number;
  /** Events in the group. */
  count: number;
  /** Client: connects that completed; server: connections accepted. */
  established: number;
  /** Failed connects per reason (CONNECT_FAILURE_REASONS' order). */
  readonly failures: Float64Array;
  /** Retransmitted segments (retransmit records, and what a close adds). */
  retransmits: number;
  resetsSent: number;
  resetsReceived: number;
  /** Closed connections: bytes acknowledged by the peer, and received. */
  bytesSent: number;
  bytesReceived: number;
  /** Handshake times of the completed connects, seconds, [0, connects). */
  connectSeconds: Float64Array;
  connects: number;
  /** Lifetimes of the closed connections, seconds, [0, closes). */
  lifetimeSeconds: Float64Array;
  closes: number;
  /** Smoothed RTTs (srtt) of the closed connections that had one, seconds, [0, rtts). */
  rttSeconds: Float64Array;
  rtts: number;
}

/** Builds TCP identities from records. One per shard. */
export class TcpEnricher {
  /** tgid → side and port → peer (IPv4 as a number, IPv6 as text) → identity. */
  private readonly tree = new Map<number, Map<number, Map<number | string, TcpIdentity>>>();
  private readonly workloads: WorkloadResolver | undefined;
  private readonly maxIdentities: number;
  private identityCount = 0;

  constructor(options: { maxIdentities: number; workloads?: WorkloadResolver }) {
    this.workloads = options.workloads;
    this.maxIdentities = options.maxIdentities;
  }

  identityOf(r: TcpEventReader): TcpIdentity {
    const side = r.direction;
    const port = side === 'server' ? r.localPort : r.peerPort;
    const portKey = side === 'server' ? port : port + 65536;
    const v4 = r.peerIpv4;
    const peerKey: number | string = v4 >= 0 ? v4 : r.peerAddress;
    const tgid = r.tgid;
    let byPort = this.tree.get(tgid);
    if (!byPort) this.tree.set(tgid, (byPort = new Map()));
    let byPeer = byPort.get(portKey);
    if (!byPeer) byPort.set(portKey, (byPeer = new Map()));
    const id = byPeer.get(peerKey);
    const comm = r.comm;
    const cgroup = r.cgroupIdNumber;
    if (id !== undefined && id.cgroupNumber === cgroup && id.processName === comm) return id;
    if (++this.identityCount > this.maxIdentities) {
      this.forgetIdentities();
      return this.identityOf(r);
    }
    const made = this.makeIdentity(r, comm, tgid, cgroup, side, port, v4);
    byPeer.set(peerKey, made);
    return made;
  }

  /** Forgets every identity: the workloads they carry may have changed. */
  forgetIdentities(): void {
    this.tree.clear();
    this.identityCount = 0;
  }

  private makeIdentity(r: TcpEventReader, comm: string, tgid: number, cgroup: number, side: Direction, port: number, v4: number): TcpIdentity {
    const w = this.workloads;
    const workload = w?.workloadOf(r.cgroupId, tgid) ?? PROCESS_WORKLOAD;
    const address = r.peerAddress;
    const name = w !== undefined && w.hasPeers ? (v4 >= 0 ? w.peerNameV4(v4) : w.peerNameText(address)) : '';
    return {
      service: serviceNameOf(workload, comm, side, port),
      workload,
      side,
      serverPort: String(port),
      peer: name !== '' ? name : address,
      processName: comm,
      tgid,
      cgroupNumber: cgroup,
      epoch: -1,
      cells: [],
      group: undefined,
      groupBatch: -1,
    };
  }
}

/** The TCP groups of one batch, from a pool reused batch after batch (as BatchGroups). */
export class TcpGroups {
  readonly groups: TcpGroup[] = [];
  count = 0;
  batch = 0;

  begin(): void {
    this.count = 0;
    this.batch++;
  }

  /** Adds the reader's current event to its identity's group in bucketMs. */
  add(identity: TcpIdentity, bucketMs: number, r: TcpEventReader): void {
    let g = identity.group;
    if (identity.groupBatch !== this.batch || g === undefined || g.bucketMs !== bucketMs) g = this.open(identity, bucketMs);
    g.count++;
    switch (r.kind) {
      case TcpKinds.connect:
        g.established++;
        if (g.connects === g.connectSeconds.length) g.connectSeconds = grown(g.connectSeconds);
        g.connectSeconds[g.connects++] = r.durationNs / 1e9;
        break;
      case TcpKinds.accept:
        g.established++;
        break;
      case TcpKinds.connectFailed:
        g.failures[REASON_INDEX.get(connectFailureReason(r.error))!]++;
        break;
      case TcpKinds.close:
        if (g.closes === g.lifetimeSeconds.length) g.lifetimeSeconds = grown(g.lifetimeSeconds);
        g.lifetimeSeconds[g.closes++] = r.durationNs / 1e9;
        if (r.srttUs > 0) {
          if (g.rtts === g.rttSeconds.length) g.rttSeconds = grown(g.rttSeconds);
          g.rttSeconds[g.rtts++] = r.srttUs / 1e6;
        }
        g.bytesSent += r.bytesAcked;
        g.bytesReceived += r.bytesReceived;
        g.retransmits += r.segments; // what no retransmit record reported yet
        break;
      case TcpKinds.retransmit:
        g.retransmits += r.segments;
        break;
      case TcpKinds.resetSent:
        g.resetsSent++;
        break;
      case TcpKinds.resetReceived:
        g.resetsReceived++;
        break;
    }
  }

  private open(identity: TcpIdentity, bucketMs: number): TcpGroup {
    if (this.count === this.groups.length) this.groups.push(emptyGroup());
    const g = this.groups[this.count++];
    g.identity = identity;
    g.bucketMs = bucketMs;
    g.count = g.established = g.retransmits = g.resetsSent = g.resetsReceived = g.bytesSent = g.bytesReceived = g.connects = g.closes = g.rtts = 0;
    g.failures.fill(0);
    identity.group = g;
    identity.groupBatch = this.batch;
    return g;
  }
}

function emptyGroup(): TcpGroup {
  return {
    identity: undefined as never,
    bucketMs: 0,
    count: 0,
    established: 0,
    failures: new Float64Array(CONNECT_FAILURE_REASONS.length),
    retransmits: 0,
    resetsSent: 0,
    resetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    connectSeconds: new Float64Array(4),
    connects: 0,
    lifetimeSeconds: new Float64Array(4),
    closes: 0,
    rttSeconds: new Float64Array(4),
    rtts: 0,
  };
}
