/**
 * The TypeScript side of bpf/include/http_tracer.h. The decoder reads records
 * at these offsets; verifyLayout() compares them with the addon's
 * sizeof/offsetof at start-up (and test/capture/abi.test.ts does in CI), so
 * the C header, the addon and this file cannot drift apart silently.
 */
import { TracerError } from '../errors';

export const ABI_VERSION = 4;
export const HEAD_MAX = 512;
export const HEAD_DEFAULT = 256;
export const COMM_LENGTH = 16;
export const FILTER_MAX = 64;
export const RECORD_EXCHANGE = 1;
export const RECORD_TCP = 2;

export const EXCHANGE_SIZE = 120;
export const ExchangeOffsets = {
  type: 0,
  size: 2,
  direction: 4,
  family: 5,
  flags: 6,
  pid: 8,
  tgid: 12,
  fd: 16,
  status: 20,
  head_len: 22,
  cgroup_id: 24,
  start_monotime_ns: 32,
  end_monotime_ns: 40,
  request_bytes: 48,
  response_bytes: 56,
  local_addr: 64,
  peer_addr: 80,
  local_port: 96,
  peer_port: 98,
  abi_version: 100,
  comm: 104,
  head: 120,
} as const;

export const ExchangeFlags = {
  aborted: 1 << 0,
  closed: 1 << 1,
  reset: 1 << 2,
  processExit: 1 << 3,
  chunked: 1 << 4,
  headTruncated: 1 << 5,
  pipelined: 1 << 6,
  noResponseHead: 1 << 7,
  timeout: 1 << 8,
  newConnection: 1 << 9,
  headMissing: 1 << 10,
  interim: 1 << 11,
  tls: 1 << 12,
} as const;

export type ExchangeFlagName = keyof typeof ExchangeFlags;

/** struct ht_tcp_event: one TCP connection event. */
export const TCP_EVENT_SIZE = 128;
export const TcpEventOffsets = {
  type: 0,
  size: 2,
  kind: 4,
  direction: 5,
  family: 6,
  abi_version: 7,
  pid: 8,
  tgid: 12,
  cgroup_id: 16,
  monotime_ns: 24,
  duration_ns: 32,
  bytes_acked: 40,
  bytes_received: 48,
  srtt_us: 56,
  segments: 60,
  error: 64,
  local_port: 68,
  peer_port: 70,
  local_addr: 72,
  peer_addr: 88,
  comm: 104,
} as const;

/** enum ht_tcp_kind. */
export const TcpKinds = {
  connect: 1,
  connectFailed: 2,
  accept: 3,
  close: 4,
  retransmit: 5,
  resetSent: 6,
  resetReceived: 7,
} as const;

export type TcpKindName = keyof typeof TcpKinds;

/** Kernel counters, in the order of enum ht_counter. */
export const KernelCounters = {
  lostRingbufFull: 0,
  lostConnMapFull: 1,
  lostResponseNoRequest: 2,
  lostPipelineOverflow: 3,
  lostUnparsed: 4,
  lostScanLimit: 5,
  exchanges: 6,
  aborted: 7,
  headless: 8,
  wakeups: 9,
  notHttp: 10,
  tcpEvents: 11,
  lostTcpSockMapFull: 12,
  lostTcpRingbufFull: 13,
} as const;
export const KERNEL_COUNTER_COUNT = 14;

export type KernelCounterName = keyof typeof KernelCounters;

export const DIRECTION_SERVER = 1;
export const DIRECTION_CLIENT = 2;
export const AF_INET = 2;
export const AF_INET6 = 10;

/** What the addon's layout() returns. */
export interface AddonLayout {
  abiVersion: number;
  headMax: number;
  headDefault: number;
  commLength: number;
  filterMax: number;
  exchange: { size: number; recordType: number; fields: Record<string, number> };
  tcp: { size: number; recordType: number; fields: Record<string, number>; kinds: Record<string, number> };
  flags: Record<string, number>;
  counters: Record<string, number>;
}

/** Every difference between the addon's layout and this file, as text. */
export function layoutDifferences(layout: AddonLayout): string[] {
  const diffs: string[] = [];
  const expect = (what: string, ours: number, theirs: number | undefined): void => {
    if (ours !== theirs) diffs.push(`${what}: decoder ${ours}, addon ${theirs}`);
  };
  expect('abi version', ABI_VERSION, layout.abiVersion);
  expect('head max', HEAD_MAX, layout.headMax);
  expect('head default', HEAD_DEFAULT, layout.headDefault);
  expect('comm length', COMM_LENGTH, layout.commLength);
  expect('filter max', FILTER_MAX, layout.filterMax);
  expect('exchange size', EXCHANGE_SIZE, layout.exchange.size);
  expect('exchange record type', RECORD_EXCHANGE, layout.exchange.recordType);
  const fields = new Set([...Object.keys(ExchangeOffsets), ...Object.keys(layout.exchange.fields)]);
  for (const f of fields) {
    expect(`offset of ${f}`, (ExchangeOffsets as Record<string, number>)[f] ?? -1, layout.exchange.fields[f]);
  }
  expect('tcp event size', TCP_EVENT_SIZE, layout.tcp?.size);
  expect('tcp event record type', RECORD_TCP, layout.tcp?.recordType);
  const tcpFields = new Set([...Object.keys(TcpEventOffsets), ...Object.keys(layout.tcp?.fields ?? {})]);
  for (const f of tcpFields) {
    expect(`tcp event offset of ${f}`, (TcpEventOffsets as Record<string, number>)[f] ?? -1, layout.tcp?.fields[f]);
  }
  const kinds = new Set([...Object.keys(TcpKinds), ...Object.keys(layout.tcp?.kinds ?? {})]);
  for (const k of kinds) expect(`tcp kind ${k}`, (TcpKinds as Record<string, number>)[k] ?? -1, layout.tcp?.kinds[k]);
  for (const [name, bit] of Object.entries(ExchangeFlags)) expect(`flag ${name}`, bit, layout.flags[name]);
  for (const [name, index] of Object.entries(KernelCounters)) expect(`counter ${name}`, index, layout.counters[name]);
  expect('counter count', KERNEL_COUNTER_COUNT, layout.counters.count);
  return diffs;
}

export function verifyLayout(layout: AddonLayout): void {
  const diffs = layoutDifferences(layout);
  if (diffs.length > 0) {
    throw new TracerError('HT_ERR_ABI_MISMATCH', `record layout mismatch (rebuild with "npm run build"):\n  ${diffs.join('\n  ')}`);
  }
}
