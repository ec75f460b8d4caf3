/**
 * Decoding of record batches. One DataView per batch, a cursor that moves
 * over the records in place; an Exchange object is built only when the
 * consumer asks for one (toExchange), so a consumer that aggregates reads
 * the fields it needs straight from the bytes.
 *
 *   Buffer [rec0 | rec1 | ... ]  --ExchangeCursor.next()-->  getters at offsets
 *                                                  `--toExchange()--> Exchange
 *
 * Records of every type step by their size. next() walks exchanges and steps
 * over TCP events; nextRecord() stops at both and says which it found, and
 * cursor.tcp reads a TCP event in place (toTcpEvent() for an object).
 *
 * The batch stays owned by whoever delivered it; an Exchange copies what it keeps.
 */
import { AF_INET, AF_INET6, DIRECTION_SERVER, EXCHANGE_SIZE, ExchangeFlags, ExchangeOffsets as O, RECORD_EXCHANGE, RECORD_TCP, TCP_EVENT_SIZE, TcpEventOffsets as T, TcpKinds, type ExchangeFlagName, type TcpKindName } from './abi';
import { formatAddress } from './address';
import { parseRequestHead, targetPath } from './http-head';

const TWO_32 = 4294967296;

export type Direction = 'server' | 'client';

export interface Exchange {
  direction: Direction;
  ipVersion: 4 | 6;
  pid: number;
  tgid: number;
  fd: number;
  comm: string;
  cgroupId: bigint;
  /** CLOCK_MONOTONIC ns: server = first request byte read, client = first written. */
  startMonotimeNs: bigint;
  endMonotimeNs: bigint;
  durationNs: number;
  localAddress: string;
  localPort: number;
  peerAddress: string;
  peerPort: number;
  /** 0 when the exchange ended before a status line was seen. */
  status: number;
  requestBytes: number;
  responseBytes: number;
  method: string;
  /** Request target as sent (path and query). */
  target: string;
  path: string;
  host: string | undefined;
  aborted: boolean;
  flags: ExchangeFlagName[];
}

/** Why a connect failed, from the socket error the kernel set (positive errno). */
export type ConnectFailureReason = 'refused' | 'timeout' | 'unreachable' | 'reset' | 'aborted' | 'error';

/** ECONNREFUSED 111, ETIMEDOUT 110, EHOSTUNREACH 113, ENETUNREACH 101, ECONNRESET 104; 0: the caller closed it first. */
export function connectFailureReason(errno: number): ConnectFailureReason {
  switch (errno) {
    case 111:
      return 'refused';
    case 110:
      return 'timeout';
    case 113:
    case 101:
      return 'unreachable';
    case 104:
      return 'reset';
    case 0:
      return 'aborted';
    default:
      return 'error';
  }
}

export interface TcpEvent {
  kind: TcpKindName;
  direction: Direction;
  ipVersion: 4 | 6;
  pid: number;
  tgid: number;
  comm: string;
  cgroupId: bigint;
  monotimeNs: bigint;
  /** connect: the handshake; accept: the wait in the accept queue; close: since established; else 0. */
  durationNs: number;
  bytesAcked: number;
  bytesReceived: number;
  srttUs: number;
  /** Retransmitted segments not in an earlier record (retransmit, close): a connection's records add up to its total_retrans. */
  segments: number;
  /** connectFailed: the socket error (errno), else 0. */
  error: number;
  localAddress: string;
  localPort: number;
  peerAddress: string;
  peerPort: number;
}

const KIND_NAMES: (TcpKindName | undefined)[] = [];
for (const [name, value] of Object.entries(TcpKinds)) KIND_NAMES[value] = name as TcpKindName;

export interface BatchProblems {
  /** Bytes at the end of the batch that did not form a whole record. */
  truncatedBytes: number;
  /** Records of a type this decoder does not know (skipped by their size). */
  unknownRecords: number;
}

/** What nextRecord() found. */
export const END_OF_BATCH = 0;

/** Process names by their 16 bytes, direct-mapped: few processes talk HTTP, so the same strings come back. */
const COMM_CACHE_BITS = 8;
const commWords = new Uint32Array(4 << COMM_CACHE_BITS);
const commTexts: (string | undefined)[] = new Array(1 << COMM_CACHE_BITS).fill(undefined);

/** Flag names per flag bits: few combinations occur, so each array is made once. */
const flagNames = new Map<number, ExchangeFlagName[]>();
function namesOf(bits: number): ExchangeFlagName[] {
  let names = flagNames.get(bits);
  if (!names) {
    names = (Object.keys(ExchangeFlags) as ExchangeFlagName[]).filter((f) => (bits & ExchangeFlags[f]) !== 0);
    if (flagNames.size < 1024) flagNames.set(bits, names);
  }
  return names;
}

/** The 16-byte process name at `at`, interned. */
function commAt(v: DataView, bytes: Buffer, at: number): string {
  const w0 = v.getUint32(at, true);
  const w1 = v.getUint32(at + 4, true);
  const w2 = v.getUint32(at + 8, true);
  const w3 = v.getUint32(at + 12, true);
  const slot = (w0 ^ Math.imul(w1, 0x9e3779b1) ^ Math.imul(w2, 0x85ebca6b) ^ Math.imul(w3, 0xc2b2ae35)) >>> (32 - COMM_CACHE_BITS);
  const k = slot * 4;
  const cached = commTexts[slot];
  if (cached !== undefined && commWords[k] === w0 && commWords[k + 1] === w1 && commWords[k + 2] === w2 && commWords[k + 3] === w3) return cached;
  let end = at;
  let text = '';
  while (end < at + 16 && bytes[end] !== 0) text += String.fromCharCode(bytes[end++]);
  commWords[k] = w0;
  commWords[k + 1] = w1;
  commWords[k + 2] = w2;
  commWords[k + 3] = w3;
  commTexts[slot] = text;
  return text;
}

/** A TCP event read in place, at `offset` in the batch (set by the cursor). */
export class TcpEventReader {
  offset = -1;
  private readonly view: DataView;
  private readonly bytes: Buffer;

  constructor(view: DataView, bytes: Buffer) {
    this.view = view;
    this.bytes = bytes;
  }

  /** enum ht_tcp_kind (TcpKinds). */
  get kind(): number {
    return this.view.getUint8(this.offset + T.kind);
  }
  get direction(): Direction {
    return this.view.getUint8(this.offset + T.direction) === DIRECTION_SERVER ? 'server' : 'client';
  }
  get pid(): number {
    return this.view.getUint32(this.offset + T.pid, true);
  }
  get tgid(): number {
    return this.view.getUint32(this.offset + T.tgid, true);
  }
  get comm(): string {
    return commAt(this.view, this.bytes, this.offset + T.comm);
  }
  get cgroupId(): string {
    return this.view.getBigUint64(this.offset + T.cgroup_id, true).toString();
  }
  get cgroupIdNumber(): number {
    return this.u64(T.cgroup_id);
  }
  /** When it happened, ms of CLOCK_MONOTONIC. */
  get monotimeMs(): number {
    return this.u64(T.monotime_ns) / 1e6;
  }
  get durationNs(): number {
    return this.u64(T.duration_ns);
  }
  get bytesAcked(): number {
    return this.u64(T.bytes_acked);
  }
  get bytesReceived(): number {
    return this.u64(T.bytes_received);
  }
  get srttUs(): number {
    return this.view.getUint32(this.offset + T.srtt_us, true);
  }
  get segments(): number {
    return this.view.getUint32(this.offset + T.segments, true);
  }
  get error(): number {
    return this.view.getInt32(this.offset + T.error, true);
  }
  get localPort(): number {
    return this.view.getUint16(this.offset + T.local_port, true);
  }
  get peerPort(): number {
    return this.view.getUint16(this.offset + T.peer_port, true);
  }
  /** The peer's IPv4 address (also when IPv4-mapped in IPv6) as a 32-bit key, or -1 for a real IPv6 peer. */
  get peerIpv4(): number {
    return ipv4At(this.bytes, this.offset + T.peer_addr, this.view.getUint8(this.offset + T.family));
  }
  get peerAddress(): string {
    return this.address(T.peer_addr);
  }
  get localAddress(): string {
    return this.address(T.local_addr);
  }

  toTcpEvent(): TcpEvent {
    return {
      kind: KIND_NAMES[this.kind]!, // nextRecord() stops at known kinds only
      direction: this.direction,
      ipVersion: this.view.getUint8(this.offset + T.family) === AF_INET6 ? 6 : 4,
      pid: this.pid,
      tgid: this.tgid,
      comm: this.comm,
      cgroupId: this.view.getBigUint64(this.offset + T.cgroup_id, true),
      monotimeNs: this.view.getBigUint64(this.offset + T.monotime_ns, true),
      durationNs: this.durationNs,
      bytesAcked: this.bytesAcked,
      bytesReceived: this.bytesReceived,
      srttUs: this.srttUs,
      segments: this.segments,
      error: this.error,
      localAddress: this.localAddress,
      localPort: this.localPort,
      peerAddress: this.peerAddress,
      peerPort: this.peerPort,
    };
  }

  private address(field: number): string {
    const family = this.view.getUint8(this.offset + T.family);
    return formatAddress(this.bytes, this.offset + field, family === AF_INET ? AF_INET : AF_INET6);
  }

  private u64(field: number): number {
    return u64At(this.view, this.offset + field);
  }
}

/** The little-endian u64 at `at`, as a number (exact below 2^53: byte counts, ns since boot, cgroup ids). */
function u64At(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * TWO_32 + view.getUint32(at, true);
}

/** The IPv4 address at `at` (also IPv4-mapped IPv6) as a 32-bit key, or -1 for a real IPv6 address. */
function ipv4At(b: Buffer, at: number, family: number): number {
  if (family !== AF_INET) {
    for (let i = 0; i < 10; i++) if (b[at + i] !== 0) return -1;
    if (b[at + 10] !== 0xff || b[at + 11] !== 0xff) return -1;
    at += 12;
  }
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

export class ExchangeCursor {
  /** The batch, for consumers that read fields in place (view.get…(offset + ExchangeOffsets.x)) in their own loop. */
  readonly view: DataView;
  private readonly bytes: Buffer;
  /** Where the current record starts in the batch (-1 before the first next()). */
  offset = -1;
  private nextOffset = 0;
  readonly problems: BatchProblems = { truncatedBytes: 0, unknownRecords: 0 };
  /** The current TCP event, read in place (valid after nextRecord() returned RECORD_TCP). */
  readonly tcp: TcpEventReader;

  constructor(batch: Uint8Array) {
    this.bytes = Buffer.isBuffer(batch) ? batch : Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
    this.view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    this.tcp = new TcpEventReader(this.view, this.bytes);
  }

  /** Moves to the next exchange record, stepping over TCP events; false at the end of the batch. */
  next(): boolean {
    for (;;) {
      const type = this.nextRecord();
      if (type === RECORD_EXCHANGE) return true;
      if (type === END_OF_BATCH) return false;
    }
  }

  /**
   * Moves to the next record of a known type and returns its type
   * (RECORD_EXCHANGE: the exchange getters apply; RECORD_TCP: read it through
   * `tcp`), or END_OF_BATCH.
   */
  nextRecord(): number {
    const view = this.view;
    while (this.nextOffset < view.byteLength) {
      const at = this.nextOffset;
      const remaining = view.byteLength - at;
      if (remaining < 4) break;
      const type = view.getUint16(at + O.type, true);
      const size = view.getUint16(at + O.size, true);
      if (size < 4 || size > remaining || (type === RECORD_EXCHANGE && size < EXCHANGE_SIZE) || (type === RECORD_TCP && size < TCP_EVENT_SIZE)) break;
      this.nextOffset = at + size;
      if (type === RECORD_TCP && KIND_NAMES[view.getUint8(at + T.kind)] !== undefined) {
        this.offset = at;
        this.tcp.offset = at;
        return RECORD_TCP;
      }
      if (type !== RECORD_EXCHANGE) {
        this.problems.unknownRecords++;
        continue;
      }
      const headLen = view.getUint16(at + O.head_len, true);
      if (EXCHANGE_SIZE + headLen > size) break;
      this.offset = at;
      return RECORD_EXCHANGE;
    }
    this.problems.truncatedBytes = view.byteLength - this.nextOffset;
    this.nextOffset = view.byteLength;
    return END_OF_BATCH;
  }

  get direction(): Direction {
    return this.view.getUint8(this.offset + O.direction) === DIRECTION_SERVER ? 'server' : 'client';
  }
  get flags(): number {
    return this.view.getUint16(this.offset + O.flags, true);
  }
  get aborted(): boolean {
    return (this.flags & ExchangeFlags.aborted) !== 0;
  }
  get status(): number {
    return this.view.getUint16(this.offset + O.status, true);
  }
  get pid(): number {
    return this.view.getUint32(this.offset + O.pid, true);
  }
  get tgid(): number {
    return this.view.getUint32(this.offset + O.tgid, true);
  }
  get localPort(): number {
    return this.view.getUint16(this.offset + O.local_port, true);
  }
  get peerPort(): number {
    return this.view.getUint16(this.offset + O.peer_port, true);
  }
  get requestBytes(): number {
    return this.u64(O.request_bytes);
  }
  get responseBytes(): number {
    return this.u64(O.response_bytes);
  }
  /** Exact as long as the exchange lasted less than 2^53 ns (104 days). */
  get durationNs(): number {
    const v = this.view;
    const at = this.offset;
    const hi = v.getUint32(at + O.end_monotime_ns + 4, true) - v.getUint32(at + O.start_monotime_ns + 4, true);
    const lo = v.getUint32(at + O.end_monotime_ns, true) - v.getUint32(at + O.start_monotime_ns, true);
    return hi * TWO_32 + lo;
  }
  /** Start in ms of CLOCK_MONOTONIC (sub-µs precision is not needed there). */
  get startMonotimeMs(): number {
    return this.u64(O.start_monotime_ns) / 1e6;
  }
  /** End in ms of CLOCK_MONOTONIC. */
  get endMonotimeMs(): number {
    return this.u64(O.end_monotime_ns) / 1e6;
  }
  /** Interned: a process name is decoded once and found again by its 16 bytes. */
  get comm(): string {
    return commAt(this.view, this.bytes, this.offset + O.comm);
  }
  /** The cgroup v2 id as a decimal string. */
  get cgroupId(): string {
    return this.view.getBigUint64(this.offset + O.cgroup_id, true).toString();
  }
  /** The cgroup v2 id as a number (exact: ids are inode numbers, far below 2^53). */
  get cgroupIdNumber(): number {
    return this.u64(O.cgroup_id);
  }
  /** The peer's IPv4 address (also when IPv4-mapped in IPv6) as a 32-bit key, or -1 for a real IPv6 peer. */
  get peerIpv4(): number {
    return ipv4At(this.bytes, this.offset + O.peer_addr, this.view.getUint8(this.offset + O.family));
  }
  /** The peer's address as text (formatAddress). */
  get peerAddress(): string {
    const family = this.view.getUint8(this.offset + O.family);
    return formatAddress(this.bytes, this.offset + O.peer_addr, family === AF_INET ? AF_INET : AF_INET6);
  }
  /** The whole batch, for reading the head in place (headStart..headEnd) without a view per record. */
  get batchBytes(): Buffer {
    return this.bytes;
  }
  get headStart(): number {
    return this.offset + O.head;
  }
  get headEnd(): number {
    return this.offset + O.head + this.view.getUint16(this.offset + O.head_len, true);
  }
  /** The captured request head bytes, a view into the batch. */
  get head(): Buffer {
    const len = this.view.getUint16(this.offset + O.head_len, true);
    return this.bytes.subarray(this.offset + O.head, this.offset + O.head + len);
  }

  toExchange(): Exchange {
    const v = this.view;
    const at = this.offset;
    const family = v.getUint8(at + O.family);
    const head = parseRequestHead(this.head);
    const flagBits = this.flags;
    const target = head?.target ?? '';
    return {
      direction: this.direction,
      ipVersion: family === AF_INET6 ? 6 : 4,
      pid: this.pid,
      tgid: this.tgid,
      fd: v.getUint32(at + O.fd, true),
      comm: this.comm,
      cgroupId: v.getBigUint64(at + O.cgroup_id, true),
      startMonotimeNs: v.getBigUint64(at + O.start_monotime_ns, true),
      endMonotimeNs: v.getBigUint64(at + O.end_monotime_ns, true),
      durationNs: this.durationNs,
      localAddress: formatAddress(this.bytes, at + O.local_addr, family === AF_INET ? AF_INET : AF_INET6),
      localPort: this.localPort,
      peerAddress: formatAddress(this.bytes, at + O.peer_addr, family === AF_INET ? AF_INET : AF_INET6),
      peerPort: this.peerPort,
      status: this.status,
      requestBytes: this.requestBytes,
      responseBytes: this.responseBytes,
      method: head?.method ?? '',
      target,
      path: targetPath(target),
      host: head?.host,
      aborted: (flagBits & ExchangeFlags.aborted) !== 0,
      flags: namesOf(flagBits),
    };
  }

  private u64(field: number): number {
    return u64At(this.view, this.offset + field);
  }
}

/** Every exchange of a batch as objects: for tests and tools, not hot paths. */
export function decodeExchanges(batch: Uint8Array): Exchange[] {
  const out: Exchange[] = [];
  const cursor = new ExchangeCursor(batch);
  while (cursor.next()) out.push(cursor.toExchange());
  return out;
}

/** Every TCP event of a batch as objects: for tests and tools, not hot paths. */
export function decodeTcpEvents(batch: Uint8Array): TcpEvent[] {
  const out: TcpEvent[] = [];
  const cursor = new ExchangeCursor(batch);
  for (let type = cursor.nextRecord(); type !== END_OF_BATCH; type = cursor.nextRecord()) {
    if (type === RECORD_TCP) out.push(cursor.tcp.toTcpEvent());
  }
  return out;
}
