/**
 * The one mapping from the store's families and labels to the names and
 * labels that leave the node: /metrics (prometheus.ts), and the rollup that
 * remote-write and OTLP send (collect.ts) read it, so every surface carries
 * the same series under the same names with the same label values.
 *
 * Primary names: the OpenTelemetry HTTP semantic conventions (dots as
 * underscores, as Prometheus spells them). The duration family goes out under
 * these names only, one histogram per side:
 *
 *   store http_request_duration_seconds     http_server_request_duration_seconds   (side="server")
 *                                            http_client_request_duration_seconds   (side="client")
 *     service      "nginx:80"            ->  service_name
 *     side                               ->  (chooses the metric; not a label)
 *     server_port  "80"                  ->  server_port    (server side: the local port; client side: the peer's)
 *     method       "GET", "_OTHER"       ->  http_request_method
 *     route        "/users/{id}"         ->  http_route
 *     status_code  "200" … "599"         ->  http_response_status_code
 *                  "0" (no status line)  ->  (absent: no status was seen)
 *     error_type   ""                    ->  (absent: a success)
 *                  "5xx", "4xx"          ->  error_type = the status code ("503"), as OpenTelemetry sets error.type for HTTP errors
 *                  "reset"               ->  error_type = "connection_reset"
 *                  "aborted"             ->  error_type = "aborted" (closed, timed out or the process exited before the
 *                                            exchange completed; the store does not keep which: network_errors_total does)
 *     scheme       "https"               ->  url_scheme = "https" (an exchange read through the TLS uprobes: the tls flag)
 *                  "http", ""            ->  url_scheme = "http" (plaintext; "" is a series written without
 *                                            a scheme, by a plugin or by hand: always present, as OpenTelemetry requires)
 *
 *     (HTTP families, client side)      ->  server_address: the peer's name where the node knows it
 *                                            (a Service "api.shop", a pod's workload); absent otherwise, since
 *                                            a bare address would be a label without bound
 *     k8s_namespace_name, k8s_pod_name, k8s_container_name, k8s_<workload kind>_name
 *                                        ->  the same names (src/metadata/workload.ts); absent outside Kubernetes
 *
 *   Not carried: network_protocol_version (the store does not keep 1.0 from 1.1).
 *
 * Aliases: the seed's families (002) keep their names and labels as before,
 * with two changes: status_code "0" is left out (as above), and
 * process_events_total lost its pid (families.ts). Their labels are the
 * store's, route written `path` (the seed's word), error_type the store's
 * values (5xx, 4xx, reset, aborted: what REST and alert rules match on):
 *
 *   http_requests_total{service,side,server_port,method,path}
 *   http_responses_total{service,side,server_port,status_code,status_class}
 *   http_errors_total{service,side,server_port,path,status_code,error_type}
 *   http_response_size_bytes{service,side,server_port,path}                  histogram, SIZE buckets
 *   network_bytes_total{service,side,protocol,direction}, network_errors_total{service,side,reason}
 *   from TCP events (no OpenTelemetry convention covers per-connection TCP health; these names stay):
 *   network_connections_total{service,side,state,server_port,peer}, network_accepts_total{service},
 *   network_connect_failures_total{service,reason,server_port,peer},
 *   tcp_retransmits_total, tcp_rtt_seconds, tcp_bytes_total{…,direction}, tcp_resets_total{…,direction},
 *   network_connect_duration_seconds, network_connection_duration_seconds    (…: service,side,server_port,peer)
 *   process_events_total{process_name,cgroup_id}
 *   a processor plugin's families: its own names and labels (route → path)
 *
 * Everywhere: an empty value is no label (Prometheus reads the two alike);
 * captured text is escaped once (src/server/safe-text.ts: control characters
 * as \xNN), so /metrics and the rollup carry byte-identical values. A folded
 * series (series-budget.ts) carries the fold's values: __overflow__, and a
 * status code folded to its class ("5xx"), which an HTTP error's error_type
 * then repeats.
 *
 * Not here: http_request_duration_seconds_p50/_p95/_p99 (seed gauges, one
 * node's window: quantiles cannot be added across nodes, so they stay on
 * /metrics and are never forwarded) and the agent's own health (http_tracer_*,
 * process_*, nodejs_*), both made by prometheus.ts.
 */
import { DURATION_FAMILY, type MetricFamily } from '../analytics/families';
import type { Series } from '../analytics/store';
import { escapeControl } from '../server/safe-text';

/** A metric that leaves the node, made from the series of one store family. */
export interface ExportedMetric {
  /** The exported name: a counter's ends in _total; a histogram's is the base of _bucket, _sum, _count. */
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly family: MetricFamily;
  /** Histograms: the upper bounds of the fixed buckets (+Inf not included); frozen. */
  readonly bounds: readonly number[];
  /** Whether a series of the family belongs to this metric (the OpenTelemetry histograms: one side each). */
  accepts(series: Series): boolean;
  /**
   * The series' exported labels, made on first use and kept while the series
   * lives (a WeakMap): frozen, shared by every rollup. Read only.
   */
  labelsOf(series: Series): Readonly<Record<string, string>>;
  /** The same labels made anew, not kept: for a caller that keeps its own form of them (exposition.ts keeps their text). The caller's. */
  makeLabels(series: Series): Record<string, string>;
  /** Every label name a series of this metric can carry (a series carries those with a value). */
  readonly labelNames: readonly string[];
}

export const OTEL_DURATION_NAMES = { server: 'http_server_request_duration_seconds', client: 'http_client_request_duration_seconds' } as const;

/** The store's error_type, and the series' status code, as OpenTelemetry's error.type; undefined for a success. */
export function otelErrorType(errorType: string, statusCode: string): string | undefined {
  switch (errorType) {
    case '':
      return undefined;
    case '5xx':
    case '4xx':
      return statusCode;
    case 'reset':
      return 'connection_reset';
    default:
      return errorType; // "aborted", and any value a plugin's family holds
  }
}

/** No label for these values: "" (absent), and status_code "0" (no status line was seen). */
const absent = (name: string, value: string): boolean => value === '' || (value === '0' && name === 'status_code');

/** Store label → exported label on the OpenTelemetry histograms; side is dropped (it picks the metric). */
const OTEL_LABEL: Record<string, string | undefined> = {
  service: 'service_name',
  side: undefined,
  server_port: 'server_port',
  method: 'http_request_method',
  route: 'http_route',
  status_code: 'http_response_status_code',
  error_type: 'error_type',
  scheme: 'url_scheme',
};

/** The seed's names: the store's, but for the templated route. */
const SEED_LABEL: Record<string, string> = { route: 'path' };

/** Labels made once per series and metric. */
function labelCache(make: (series: Series) => Record<string, string>): (series: Series) => Readonly<Record<string, string>> {
  const cache = new WeakMap<Series, Readonly<Record<string, string>>>();
  return (series) => {
    let labels = cache.get(series);
    if (!labels) cache.set(series, (labels = Object.freeze(make(series))));
    return labels;
  };
}

function seedMetric(family: MetricFamily): ExportedMetric {
  const names = family.labels.map((l) => SEED_LABEL[l] ?? l);
  const makeLabels = (series: Series): Record<string, string> => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < names.length; i++) {
      const value = series.labels[i];
      if (!absent(family.labels[i], value)) labels[names[i]] = escapeControl(value);
    }
    return labels;
  };
  return {
    name: family.name,
    help: family.help,
    type: family.kind,
    family,
    bounds: Object.freeze(family.boundaries ?? []),
    accepts: () => true,
    labelsOf: labelCache(makeLabels),
    makeLabels,
    labelNames: Object.freeze(names),
  };
}

function otelDurationMetric(family: MetricFamily, side: 'server' | 'client'): ExportedMetric {
  const index = (name: string): number => family.labels.indexOf(name);
  const sideAt = index('side');
  const statusAt = index('status_code');
  const errorAt = index('error_type');
  const schemeAt = index('scheme');
  const names = family.labels.map((store) => (store in OTEL_LABEL ? OTEL_LABEL[store] : store));
  const makeLabels = (series: Series): Record<string, string> => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < names.length; i++) {
      const store = family.labels[i];
      const value = i === errorAt ? otelErrorType(series.labels[i], series.labels[statusAt]) : i === schemeAt ? series.labels[i] || 'http' : series.labels[i];
      const name = names[i];
      if (name !== undefined && value !== undefined && !absent(store, value)) labels[name] = escapeControl(value);
    }
    return labels;
  };
  return {
    name: OTEL_DURATION_NAMES[side],
    help: `Duration of HTTP ${side} requests (OpenTelemetry semantic conventions; ${side === 'server' ? 'from the first request byte read to the last response byte written' : 'from the first request byte written to the last response byte read'}).`,
    type: 'histogram',
    family,
    bounds: Object.freeze(family.boundaries ?? []),
    accepts: (series) => series.labels[sideAt] === side,
    labelsOf: labelCache(makeLabels),
    makeLabels,
    labelNames: Object.freeze(names.filter((n): n is string => n !== undefined)),
  };
}

const METRICS = new WeakMap<ReadonlyMap<string, MetricFamily>, readonly ExportedMetric[]>();

/**
 * Every metric made from the store's families, in exposition order: the
 * seed's families in the store's order, then the OpenTelemetry duration
 * histograms. Made once per store (keyed by its families map).
 */
export function exportedMetrics(families: ReadonlyMap<string, MetricFamily>): readonly ExportedMetric[] {
  let metrics = METRICS.get(families);
  if (!metrics) {
    const out: ExportedMetric[] = [];
    for (const family of families.values()) if (family.name !== DURATION_FAMILY) out.push(seedMetric(family));
    const duration = families.get(DURATION_FAMILY);
    if (duration) out.push(otelDurationMetric(duration, 'server'), otelDurationMetric(duration, 'client'));
    METRICS.set(families, (metrics = Object.freeze(out)));
  }
  return metrics;
}

/** The seed's percentile gauges (node-local: /metrics only), per service and side over a window. */
export const PERCENTILE_NAMES = { p50: 'http_request_duration_seconds_p50', p95: 'http_request_duration_seconds_p95', p99: 'http_request_duration_seconds_p99' } as const;
