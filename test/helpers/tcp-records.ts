/**
 * Builds raw TCP event records exactly as bpf/tracer/tcp.h lays them out
 * (struct ht_tcp_event), for decoder and pipeline tests.
 */
import { ABI_VERSION, AF_INET, AF_INET6, DIRECTION_CLIENT, DIRECTION_SERVER, RECORD_TCP, TCP_EVENT_SIZE, TcpEventOffsets as T, TcpKinds, type TcpKindName } from '../../src/capture/abi';

export interface TcpEventSpec {
  kind: TcpKindName;
  direction?: 'server' | 'client';
  ipv6?: boolean;
  pid?: number;
  tgid?: number;
  comm?: string;
  cgroupId?: bigint;
  monotimeNs?: bigint;
  durationNs?: bigint;
  bytesAcked?: number;
  bytesReceived?: number;
  srttUs?: number;
  segments?: number;
  error?: number;
  localAddr?: number[];
  peerAddr?: number[];
  localPort?: number;
  peerPort?: number;
}

export function encodeTcpEvent(spec: TcpEventSpec): Buffer {
  const b = Buffer.alloc(TCP_EVENT_SIZE);
  b.writeUInt16LE(RECORD_TCP, T.type);
  b.writeUInt16LE(TCP_EVENT_SIZE, T.size);
  b.writeUInt8(TcpKinds[spec.kind], T.kind);
  b.writeUInt8(spec.direction === 'server' ? DIRECTION_SERVER : DIRECTION_CLIENT, T.direction);
  b.writeUInt8(spec.ipv6 ? AF_INET6 : AF_INET, T.family);
  b.writeUInt8(ABI_VERSION, T.abi_version);
  b.writeUInt32LE(spec.pid ?? 200, T.pid);
  b.writeUInt32LE(spec.tgid ?? 200, T.tgid);
  b.writeBigUInt64LE(spec.cgroupId ?? 1n, T.cgroup_id);
  b.writeBigUInt64LE(spec.monotimeNs ?? 1_000_000_000n, T.monotime_ns);
  b.writeBigUInt64LE(spec.durationNs ?? 0n, T.duration_ns);
  b.writeBigUInt64LE(BigInt(spec.bytesAcked ?? 0), T.bytes_acked);
  b.writeBigUInt64LE(BigInt(spec.bytesReceived ?? 0), T.bytes_received);
  b.writeUInt32LE(spec.srttUs ?? 0, T.srtt_us);
  b.writeUInt32LE(spec.segments ?? 0, T.segments);
  b.writeInt32LE(spec.error ?? 0, T.error);
  b.writeUInt16LE(spec.localPort ?? 40000, T.local_port);
  b.writeUInt16LE(spec.peerPort ?? 8080, T.peer_port);
  Buffer.from(spec.localAddr ?? [127, 0, 0, 1]).copy(b, T.local_addr);
  Buffer.from(spec.peerAddr ?? [127, 0, 0, 1]).copy(b, T.peer_addr);
  b.write((spec.comm ?? 'client').slice(0, 15), T.comm, 'latin1');
  return b;
}
