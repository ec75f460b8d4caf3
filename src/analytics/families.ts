/**
 * The metric families the engine keeps: name, kind, labels, and how a series
 * folds when the cardinality budget is tight (fold-plan.ts). The processors
 * write them; the store, the REST API and the Prometheus exporter read them.
 * Names are the seed's (002); labels are snake_case.
 *
 * Every HTTP and network family ends with the workload's labels
 * (WORKLOAD_LABELS: k8s namespace, pod, container, owning workload; "" outside
 * Kubernetes), which a series keeps however far it folds: they say whose it is.
 * The HTTP families also end with server_address: a client's peer by name
 * where the node knows it (a Service or a pod's workload), "" otherwise.
 * The duration family ends, after those, with scheme: "https" for an exchange
 * read through the TLS uprobes, "http" otherwise (exported as url_scheme,
 * src/exporters/naming.ts); kept however far a series folds.
 * The TCP families (from ht_tcp_event records) carry server_port and peer
 * before the workload's labels (TCP_IDENTITY).
 */
import { WORKLOAD_LABELS } from '../metadata/workload';

export type MetricKind = 'counter' | 'histogram';

export interface MetricFamily {
  name: string;
  help: string;
  kind: MetricKind;
  labels: readonly string[];
  /** The label that names the service a series is budgeted to. */
  serviceLabel: string;
  /**
   * Labels a series keeps however far it folds (its floor), each from a small
   * closed set; every other label folds. The service label is always kept.
   */
  keptOnOverflow: readonly string[];
  /** Labels that fold one at a time, in this order, before the floor: the one without bound (route) first. Default: none. */
  foldOrder?: readonly string[];
  /** Histograms: upper bounds of the fixed buckets exported (/metrics, remote-write, OTLP), ascending. */
  boundaries?: readonly number[];
  /** Which processor writes the family. */
  processor: string;
}

/**
 * The duration buckets by default, seconds (duration_buckets_seconds sets
 * others): 1-2.5-5 per decade from 10 µs to 10 s. OpenTelemetry's advice
 * (5 ms … 10 s) puts every loopback exchange in its first bucket; measured
 * here (2026-12, nginx on loopback, the agent's own numbers): the server side
 * takes 2–6 µs per exchange under wrk and 20–100 µs idle (p50 20 µs for a
 * `return 200`, 63 µs for a static file), its clients see 40–200 µs (curl p50
 * 37–113 µs, wrk p50 193 µs, p99 1.3 ms). So the first bound is 10 µs, and a
 * decade holds 3 buckets all the way to the 10 s a slow upstream takes.
 */
export const DEFAULT_DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** At most this many duration bounds: each is one more sample per series on every scrape and every flush. */
export const MAX_DURATION_BUCKETS = 50;
/** Body sizes: powers of 4 from 64 B to 16 MiB. */
export const SIZE_BOUNDARIES_BYTES = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216] as const;

/** The route folds first; a client's peer name and server_port (any peer port) next. status_code folds to its class at the floor. */
const HTTP_FOLD = ['route', 'server_address', 'server_port'] as const;
/** Appended to the labels of every HTTP family. */
const HTTP_IDENTITY = [...WORKLOAD_LABELS, 'server_address'] as const;
/**
 * Appended to the labels of the TCP families (network processor, from TCP
 * events): the service's port (server: local; client: the peer's), the peer
 * (its name where the node knows it, else its address), then the workload's.
 * The peer folds first (a server's clients have no bound), then the port.
 */
const TCP_IDENTITY = ['server_port', 'peer', ...WORKLOAD_LABELS] as const;
const TCP_FOLD = ['peer', 'server_port'] as const;

/** A TCP family: `own` labels after service, then TCP_IDENTITY; the peer and port fold, `own` and the workload never do. Histograms hold durations. */
function tcpFamily(name: string, kind: MetricKind, own: readonly string[], help: string): MetricFamily {
  return {
    name,
    help,
    kind,
    labels: ['service', ...own, ...TCP_IDENTITY],
    serviceLabel: 'service',
    keptOnOverflow: [...own, ...WORKLOAD_LABELS],
    foldOrder: TCP_FOLD,
    ...(kind === 'histogram' ? { boundaries: DEFAULT_DURATION_BUCKETS_SECONDS } : {}),
    processor: 'network',
  };
}

export const FAMILIES: readonly MetricFamily[] = [
  {
    name: 'http_requests_total',
    help: 'HTTP requests, by service, side (server or client), method and route.',
    kind: 'counter',
    labels: ['service', 'side', 'server_port', 'method', 'route', ...HTTP_IDENTITY],
    serviceLabel: 'service',
    keptOnOverflow: ['side', 'method', ...WORKLOAD_LABELS],
    foldOrder: HTTP_FOLD,
    processor: 'http',
  },
  {
    name: 'http_responses_total',
    // status_code "0" (no status) is kept in the store; exporters leave the label out (src/exporters/naming.ts).
    help: 'HTTP responses, by status code and class (an exchange that ended before a status line: class "none", no status_code).',
    kind: 'counter',
    labels: ['service', 'side', 'server_port', 'status_code', 'status_class', ...HTTP_IDENTITY],
    serviceLabel: 'service',
    keptOnOverflow: ['side', 'status_class', ...WORKLOAD_LABELS],
    foldOrder: ['server_address', 'server_port'],
    processor: 'http',
  },
  {
    name: 'http_response_size_bytes',
    help: 'HTTP response size in bytes (status line, headers and body, as sent on the wire).',
    kind: 'histogram',
    labels: ['service', 'side', 'server_port', 'route', ...HTTP_IDENTITY],
    serviceLabel: 'service',
    keptOnOverflow: ['side', ...WORKLOAD_LABELS],
    foldOrder: HTTP_FOLD,
    boundaries: SIZE_BOUNDARIES_BYTES,
    processor: 'http',
  },
  {
    name: 'network_bytes_total',
    help: 'Bytes of HTTP exchanges on TCP, by direction (rx: received by the traced process, tx: sent).',
    kind: 'counter',
    labels: ['service', 'side', 'protocol', 'direction', ...WORKLOAD_LABELS],
    serviceLabel: 'service',
    keptOnOverflow: ['service', 'side', 'protocol', 'direction', ...WORKLOAD_LABELS],
    processor: 'network',
  },
  tcpFamily('network_connections_total', 'counter', ['side', 'state'], 'TCP connections of traced processes, by state: established (client: connect succeeded; server: accepted) or failed (client: connect failed; the reason in network_connect_failures_total).'),
  {
    name: 'network_accepts_total',
    help: 'TCP connections accepted by traced processes (server side).',
    kind: 'counter',
    labels: ['service', ...WORKLOAD_LABELS],
    serviceLabel: 'service',
    keptOnOverflow: ['service', ...WORKLOAD_LABELS],
    processor: 'network',
  },
  tcpFamily('network_connect_failures_total', 'counter', ['reason'], 'Failed TCP connects (client side), by reason: refused, timeout, unreachable, reset, aborted (closed by the caller before the handshake completed), error (any other socket error).'),
  tcpFamily('network_connect_duration_seconds', 'histogram', [], 'TCP handshake time on the client side: from the SYN sent to the connection established.'),
  tcpFamily('network_connection_duration_seconds', 'histogram', ['side'], 'Lifetime of closed TCP connections, from established to closed.'),
  tcpFamily('tcp_rtt_seconds', 'histogram', ['side'], "Smoothed round-trip time of TCP connections (the kernel's srtt), one observation per connection at its close."),
  tcpFamily('tcp_retransmits_total', 'counter', ['side'], 'TCP segments retransmitted on connections of traced processes.'),
  tcpFamily('tcp_resets_total', 'counter', ['side', 'direction'], 'TCP resets on connections of traced processes, by direction: sent (e.g. a close with SO_LINGER 0) or received (including a refused connect).'),
  tcpFamily('tcp_bytes_total', 'counter', ['side', 'direction'], 'Bytes of closed TCP connections, by direction: tx (sent and acknowledged by the peer), rx (received); all traffic, not only HTTP; counted in sequence space, so a SYN and a FIN add one each.'),
  {
    name: 'network_errors_total',
    help: 'Exchanges cut off at the connection level, by reason (reset, closed, timeout, process_exit).',
    kind: 'counter',
    labels: ['service', 'side', 'reason', ...WORKLOAD_LABELS],
    serviceLabel: 'service',
    keptOnOverflow: ['service', 'side', 'reason', ...WORKLOAD_LABELS],
    processor: 'network',
  },
  {
    name: 'http_request_duration_seconds',
    help: 'HTTP exchange duration: server side from the first request byte read to the last response byte written; client side from the first request byte written to the last response byte read.',
    kind: 'histogram',
    // error_type (src/analytics/red.ts; "" for a success) as OpenTelemetry's error.type: every RED number comes from this family.
    labels: ['service', 'side', 'server_port', 'method', 'route', 'status_code', 'error_type', ...HTTP_IDENTITY, 'scheme'],
    serviceLabel: 'service',
    keptOnOverflow: ['side', 'error_type', ...WORKLOAD_LABELS, 'scheme'],
    foldOrder: [...HTTP_FOLD, 'method'],
    boundaries: DEFAULT_DURATION_BUCKETS_SECONDS,
    processor: 'performance',
  },
  {
    name: 'process_events_total',
    // No pid: a pid is new at every restart (unbounded over a node's life); the process name and its cgroup identify the workload.
    help: 'HTTP exchanges per traced process name; cgroup_id is the process\'s cgroup (v2 id), for container attribution.',
    kind: 'counter',
    labels: ['process_name', 'cgroup_id'],
    serviceLabel: 'process_name',
    keptOnOverflow: [],
    processor: 'performance',
  },
  {
    name: 'http_errors_total',
    help: 'Failed HTTP exchanges, by error type (5xx; 4xx on the client side only; reset, aborted: not completed, whatever the status) and status code.',
    kind: 'counter',
    labels: ['service', 'side', 'server_port', 'route', 'status_code', 'error_type', ...HTTP_IDENTITY],
    serviceLabel: 'service',
    keptOnOverflow: ['side', 'error_type', ...WORKLOAD_LABELS],
    foldOrder: HTTP_FOLD,
    processor: 'error',
  },
];

/**
 * The seed's `enabled_metrics` names: a family name, its prefix before the unit
 * ("http_request_duration", "http_response_size"), or "error_rate" (the error
 * families and the rate derived from them).
 */
export function familiesFor(enabled: readonly string[] | undefined, families: readonly MetricFamily[] = FAMILIES): Set<string> | string {
  if (!enabled) return new Set(families.map((f) => f.name));
  const out = new Set<string>();
  for (const name of enabled) {
    const matched = families.filter((f) => f.name === name || f.name.startsWith(name + '_') || (name === 'error_rate' && f.processor === 'error'));
    if (matched.length === 0) {
      return `${JSON.stringify(name)}, which is not a metric (known: ${families.map((f) => f.name).join(', ')}, error_rate)`;
    }
    for (const f of matched) out.add(f.name);
  }
  return out;
}

/**
 * The families with the duration buckets set (RED_METRIC's; every other
 * family keeps its own). The engine, its shards and the store all build
 * from the result, so cells and totals have the same number of bounds.
 */
export function withDurationBuckets(families: readonly MetricFamily[], bucketsSeconds: readonly number[]): MetricFamily[] {
  return families.map((f) => (f.name === DURATION_FAMILY ? { ...f, boundaries: bucketsSeconds } : f));
}

/** The family of every duration (src/analytics/red.ts's RED_METRIC). */
export const DURATION_FAMILY = 'http_request_duration_seconds';

export const seriesKey = (labels: readonly string[]): string => labels.join('\u0001');

/** A series' identity across families, as the cardinality budget counts it. */
export const budgetKey = (family: MetricFamily, key: string): string => family.name + '\u0002' + key;
