/**
 * GET /api/metrics: RED metrics over a window, overall, per service and per
 * route, as src/analytics/red.ts defines them (what counts as an error
 * included).
 *
 * In Kubernetes a service is its workload's name, which two namespaces may
 * share: service rows and route rows are per namespace too (`namespace`, the
 * k8s_namespace_name label; "" outside Kubernetes), and `namespace` filters
 * on it exactly.
 */
import { RED_METRIC, red, redPoints, redRows, type Red } from '../analytics/red';
import type { HistogramSummary, LabelMatcher } from '../analytics/store';
import type { WorkloadLabel } from '../metadata/workload';
import type { StoreReader } from './sources';

/** A namespace filter: at most this long, of these characters (Kubernetes names: lower-case letters, digits, "-"); "" is outside Kubernetes. */
export const NAMESPACE_MAX_LENGTH = 253;
export const NAMESPACE_PATTERN = '^[a-z0-9-]*$';

/** The label a `namespace` filter or row field stands for; `filters` (the store's matchers) names it so. */
const NAMESPACE_LABEL: WorkloadLabel = 'k8s_namespace_name';

export interface MetricsQuery {
  window: string;
  service?: string;
  namespace?: string;
  route?: string;
  method?: string;
  status_class?: '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'none';
  side?: 'server' | 'client';
  limit: number;
}

/** RED as the REST API and realtime_update send it. */
export interface RedRow {
  requests: number;
  requests_per_second: number;
  errors: number;
  error_rate: number;
  latency_seconds: { mean: number | null; p50: number | null; p90: number | null; p95: number | null; p99: number | null; max: number | null };
}

const STATUS_PATTERN: Record<string, string> = { '1xx': '1..', '2xx': '2..', '3xx': '3..', '4xx': '4..', '5xx': '5..', none: '0' };

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

function redRow(r: Red): RedRow {
  const l = r.latencySeconds;
  return {
    requests: r.requests,
    requests_per_second: r.requestsPerSecond,
    errors: r.errors,
    error_rate: r.errorRate,
    latency_seconds: { mean: finite(l.mean), p50: finite(l.p50), p90: finite(l.p90), p95: finite(l.p95), p99: finite(l.p99), max: finite(l.max) },
  };
}

export function apiMetrics(store: StoreReader, q: MetricsQuery, windowMs: number, nowMs: number = store.nowMs()) {
  const match: Record<string, LabelMatcher> = {};
  if (q.service !== undefined) match.service = q.service;
  if (q.namespace !== undefined) match[NAMESPACE_LABEL] = q.namespace;
  if (q.route !== undefined) match.route = q.route;
  if (q.method !== undefined) match.method = q.method;
  if (q.side !== undefined) match.side = q.side;
  if (q.status_class !== undefined) match.status_code = { op: '=~', value: STATUS_PATTERN[q.status_class] };
  // The namespace label goes out as `namespace`, after service and side.
  const grouped = (by: string[]) =>
    redRows(store, windowMs, by, match, nowMs)
      .map((r) => {
        const { service, side, [NAMESPACE_LABEL]: namespace, ...rest } = r.labels;
        const labels: Record<string, string> = { service, side, namespace, ...rest };
        return { ...labels, ...redRow(r) };
      })
      .sort((a, b) => b.requests - a.requests)
      .slice(0, q.limit);
  const total = redRows(store, windowMs, [], match, nowMs)[0];
  const statusClasses: Record<string, number> = {};
  for (const r of store.window({ metric: RED_METRIC, by: ['status_code'], match }, windowMs, nowMs)) {
    const code = r.labels.status_code;
    const cls = code === '0' ? 'none' : `${code[0]}xx`;
    statusClasses[cls] = (statusClasses[cls] ?? 0) + (r.summary as HistogramSummary).count;
  }
  return {
    window: q.window,
    window_seconds: windowMs / 1000,
    generated_at: new Date(nowMs).toISOString(),
    filters: match,
    totals: redRow(total ?? red(undefined, undefined)),
    status_classes: statusClasses,
    services: grouped(['service', 'side', NAMESPACE_LABEL]),
    routes: grouped(['service', 'side', NAMESPACE_LABEL, 'method', 'route']),
  };
}

export interface SeriesQuery {
  window: string;
  service?: string;
  namespace?: string;
  route?: string;
  side?: 'server' | 'client';
}

/** About this many points per chart; the step is the smallest kept resolution that gives at most that. */
const TARGET_POINTS = 90;
const STEPS_MS = [10_000, 60_000, 300_000, 900_000, 3_600_000];
/** The step for a window: a multiple of the resolution the store keeps for a span that long, with at most TARGET_POINTS points. */
export function seriesStepMs(store: StoreReader, windowMs: number): number {
  const floorMs = store.resolutionFor('histogram', windowMs);
  return STEPS_MS.find((s) => s >= floorMs && s % floorMs === 0 && windowMs / s <= TARGET_POINTS) ?? Math.max(floorMs, STEPS_MS[STEPS_MS.length - 1]);
}

/**
 * GET /api/series: RED over time for charts. Points at step starts (Unix
 * seconds, as uPlot takes them), only where there was traffic. `nowMs` is read
 * once per request by the caller.
 */
export function apiSeries(store: StoreReader, q: SeriesQuery, windowMs: number, nowMs: number) {
  const match: Record<string, LabelMatcher> = {};
  if (q.service !== undefined) match.service = q.service;
  if (q.namespace !== undefined) match[NAMESPACE_LABEL] = q.namespace;
  if (q.route !== undefined) match.route = q.route;
  if (q.side !== undefined) match.side = q.side;
  const stepMs = seriesStepMs(store, windowMs);
  // windowMs / stepMs steps, the last one the step in progress; aligned to the step, so the
  // store, given the same now, sees a span of at most windowMs (it picks its tier by that span).
  const endStepMs = nowMs - (nowMs % stepMs);
  const startMs = endStepMs + stepMs - windowMs;
  return {
    window: q.window,
    generated_at: new Date(nowMs).toISOString(),
    step_seconds: stepMs / 1000,
    points: redPoints(store, match, startMs, Math.max(startMs, nowMs), stepMs, nowMs).map(({ t, red: r }) => ({
      t: t / 1000,
      requests_per_second: r.requestsPerSecond,
      error_rate: r.errorRate,
      p50: finite(r.latencySeconds.p50),
      p95: finite(r.latencySeconds.p95),
      p99: finite(r.latencySeconds.p99),
    })),
  };
}
