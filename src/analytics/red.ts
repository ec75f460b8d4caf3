/**
 * RED — requests, rate, errors, error rate, latency — defined once. The
 * enricher labels each exchange with errorTypeOf; the REST API, the live
 * realtime_update, the dashboard, `replay --summary`, the Prometheus
 * exporter and alert rules (src/alerting/alert-metrics.ts) read RED through
 * redRows / redPoints, so the same traffic gives the same numbers everywhere.
 *
 * What is an error (OpenTelemetry HTTP semantic conventions: span status and
 * `error.type`; the peer's point of view decides):
 *   - an exchange that did not complete — connection reset or closed, the
 *     process exited, the exchange timed out — is an error on both sides,
 *     whether or not its status line had gone out: a 200 whose body was cut
 *     off is not a success for whoever waited for it. Type "reset" (the
 *     connection failed) or "aborted" (any other end, and a status never seen);
 *   - server side, a 5xx is an error; a 4xx is not: the server answered a bad
 *     request correctly (OTel leaves the server span's status unset), so a
 *     scanner's 404s do not page anyone. 4xx stay visible in their status class;
 *   - client side, 4xx and 5xx are errors: the call failed for the caller;
 *   - any other completed exchange (1xx final, 2xx, 3xx) is not an error.
 *
 *   exchange (side, status, abort reason) --errorTypeOf--> error_type label on
 *     http_request_duration_seconds (every RED query: requests = count, errors = count with error_type != "")
 *     http_errors_total (the seed's counter, same identities, same counts)
 */
import type { HistogramSummary, LabelMatcher, MetricStore } from './store';

/** "" for a success. */
export type ErrorType = '' | '4xx' | '5xx' | 'reset' | 'aborted';

/**
 * The error type of an exchange. `status` is 0 when no status line was seen;
 * `abortReason` is "" for a completed exchange, else reset, closed, timeout or
 * process_exit.
 */
export function errorTypeOf(side: 'server' | 'client', status: number, abortReason: string): ErrorType {
  if (abortReason === 'reset') return 'reset';
  if (abortReason !== '' || status === 0) return 'aborted';
  if (status >= 500) return '5xx';
  if (status >= 400 && side === 'client') return '4xx';
  return '';
}

/** The family every RED number comes from: it carries method, route, status_code and error_type, so one family answers every filter exactly. */
export const RED_METRIC = 'http_request_duration_seconds';
/** Selects the failed exchanges of RED_METRIC (and of http_errors_total, which only holds those). */
const FAILED: Record<string, LabelMatcher> = { error_type: { op: '!=', value: '' } };

export interface LatencySeconds {
  /** NaN when there was no exchange. */
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export interface Red {
  requests: number;
  requestsPerSecond: number;
  errors: number;
  errorsPerSecond: number;
  /** errors / requests, 0 to 1; 0 without requests. */
  errorRate: number;
  latencySeconds: LatencySeconds;
}

export interface RedGroup extends Red {
  /** The values of the grouping labels. */
  labels: Record<string, string>;
}

/** RED of a group from the duration summaries of all its exchanges and of its failed ones. */
export function red(all: HistogramSummary | undefined, failed: HistogramSummary | undefined): Red {
  const requests = all?.count ?? 0;
  const errors = failed?.count ?? 0;
  return {
    requests,
    requestsPerSecond: all?.rate ?? 0,
    errors,
    errorsPerSecond: failed?.rate ?? 0,
    errorRate: requests > 0 ? errors / requests : 0,
    latencySeconds: {
      mean: all?.mean ?? NaN,
      p50: all?.p50 ?? NaN,
      p90: all?.p90 ?? NaN,
      p95: all?.p95 ?? NaN,
      p99: all?.p99 ?? NaN,
      max: all?.max ?? NaN,
    },
  };
}

/**
 * RED per group over the window ending now, one row per group with traffic,
 * in the store's order. `by` and `match` name labels of RED_METRIC; `match`
 * must not constrain error_type (errors are selected through it).
 */
export function redRows(store: Pick<MetricStore, 'window'>, windowMs: number, by: readonly string[], match: Record<string, LabelMatcher> = {}, nowMs?: number): RedGroup[] {
  const key = (labels: Record<string, string>): string => by.map((l) => labels[l]).join('\u0000');
  const failed = new Map(store.window({ metric: RED_METRIC, by, match: { ...match, ...FAILED } }, windowMs, nowMs).map((r) => [key(r.labels), r.summary as HistogramSummary]));
  return store.window({ metric: RED_METRIC, by, match }, windowMs, nowMs).map((r) => ({ labels: r.labels, ...red(r.summary as HistogramSummary, failed.get(key(r.labels))) }));
}

/** RED over all matching exchanges per step in [startMs, endMs], at step starts (Unix ms), only steps with traffic. Same `match` rule as redRows. */
export function redPoints(store: Pick<MetricStore, 'range'>, match: Record<string, LabelMatcher>, startMs: number, endMs: number, stepMs: number, nowMs?: number): { t: number; red: Red }[] {
  const range = (m: Record<string, LabelMatcher>) => store.range({ metric: RED_METRIC, match: m, by: [] }, startMs, endMs, stepMs, nowMs)[0]?.points ?? [];
  const failed = new Map(range({ ...match, ...FAILED }).map((p) => [p.t, p.summary as HistogramSummary]));
  return range(match).map((p) => ({ t: p.t, red: red(p.summary as HistogramSummary, failed.get(p.t)) }));
}
