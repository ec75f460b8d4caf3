/**
 * Builds raw exchange records exactly as the kernel lays them out
 * (bpf/include/http_tracer.h), for decoder and capture-file tests.
 */
import { ABI_VERSION, AF_INET, AF_INET6, DIRECTION_CLIENT, DIRECTION_SERVER, EXCHANGE_SIZE, ExchangeOffsets as O, RECORD_EXCHANGE } from '../../src/capture/abi';

export interface RecordSpec {
  direction?: 'server' | 'client';
  ipv6?: boolean;
  flags?: number;
  pid?: number;
  tgid?: number;
  fd?: number;
  status?: number;
  cgroupId?: bigint;
  startNs?: bigint;
  endNs?: bigint;
  requestBytes?: number;
  responseBytes?: number;
  localAddr?: number[];
  peerAddr?: number[];
  localPort?: number;
  peerPort?: number;
  comm?: string;
  head?: string | Buffer;
  /** Head capacity of the record (the configured head bytes). */
  headCapacity?: number;
}

export function encodeExchange(spec: RecordSpec = {}): Buffer {
  const head = Buffer.isBuffer(spec.head) ? spec.head : Buffer.from(spec.head ?? 'GET / HTTP/1.1\r\nHost: example\r\n\r\n', 'latin1');
  const capacity = spec.headCapacity ?? Math.ceil(head.length / 8) * 8;
  const b = Buffer.alloc(EXCHANGE_SIZE + capacity);
  b.writeUInt16LE(RECORD_EXCHANGE, O.type);
  b.writeUInt16LE(b.length, O.size);
  b.writeUInt8(spec.direction === 'client' ? DIRECTION_CLIENT : DIRECTION_SERVER, O.direction);
  b.writeUInt8(spec.ipv6 ? AF_INET6 : AF_INET, O.family);
  b.writeUInt16LE(spec.flags ?? 0, O.flags);
  b.writeUInt32LE(spec.pid ?? 100, O.pid);
  b.writeUInt32LE(spec.tgid ?? 100, O.tgid);
  b.writeUInt32LE(spec.fd ?? 7, O.fd);
  b.writeUInt16LE(spec.status ?? 200, O.status);
  b.writeUInt16LE(Math.min(head.length, capacity), O.head_len);
  b.writeBigUInt64LE(spec.cgroupId ?? 1n, O.cgroup_id);
  b.writeBigUInt64LE(spec.startNs ?? 1_000_000_000n, O.start_monotime_ns);
  b.writeBigUInt64LE(spec.endNs ?? 1_002_000_000n, O.end_monotime_ns);
  b.writeBigUInt64LE(BigInt(spec.requestBytes ?? head.length), O.request_bytes);
  b.writeBigUInt64LE(BigInt(spec.responseBytes ?? 100), O.response_bytes);
  Buffer.from(spec.localAddr ?? [127, 0, 0, 1]).copy(b, O.local_addr);
  Buffer.from(spec.peerAddr ?? [127, 0, 0, 1]).copy(b, O.peer_addr);
  b.writeUInt16LE(spec.localPort ?? 8080, O.local_port);
  b.writeUInt16LE(spec.peerPort ?? 40000, O.peer_port);
  b.writeUInt8(ABI_VERSION, O.abi_version);
  b.write((spec.comm ?? 'server').slice(0, 15), O.comm, 'latin1');
  head.copy(b, O.head, 0, Math.min(head.length, capacity));
  return b;
}

export function batchOf(...records: Buffer[]): Buffer {
  return Buffer.concat(records);
}
