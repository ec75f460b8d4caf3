/**
 * GET /api/metrics: RED metrics over a window, overall, per service and per
 * route, from the duration histogram (which carries method, route and status,
 * so one family answers every filter exactly).
 */
import type { HistogramSummary, LabelMatcher, MetricStore } from '../analytics/store';

export interface MetricsQuery {
  window: string;
  service?: string;
  route?: string;
  method?: string;
  status_class?: '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'none';
  side?: 'server' | 'client';
  limit: number;
}

export interface RedRow {
  requests: number;
  requests_per_second: number;
  errors: number;
  error_rate: number;
  latency_seconds: { mean: number | null; p50: number | null; p90: number | null; p95: number | null; p99: number | null; max: number | null };
}

const STATUS_PATTERN: Record<string, string> = { '1xx': '1..', '2xx': '2..', '3xx': '3..', '4xx': '4..', '5xx': '5..', none: '0' };
/** Failed: 4xx, 5xx, or no status at all (aborted). */
const FAILED = '[45]..|0';

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

function red(all: HistogramSummary | undefined, failed: HistogramSummary | undefined): RedRow {
  const requests = all?.count ?? 0;
  const errors = failed?.count ?? 0;
  return {
    requests,
    requests_per_second: all?.rate ?? 0,
    errors,
    error_rate: requests > 0 ? errors / requests : 0,
    latency_seconds: {
      mean: finite(all?.mean ?? NaN),
      p50: finite(all?.p50 ?? NaN),
      p90: finite(all?.p90 ?? NaN),
      p95: finite(all?.p95 ?? NaN),
      p99: finite(all?.p99 ?? NaN),
      max: finite(all?.max ?? NaN),
    },
  };
}

export function apiMetrics(store: MetricStore, q: MetricsQuery, windowMs: number, nowMs: number = Date.now()) {
  const match: Record<string, LabelMatcher> = {};
  if (q.service !== undefined) match.service = q.service;
  if (q.route !== undefined) match.route = q.route;
  if (q.method !== undefined) match.method = q.method;
  if (q.side !== undefined) match.side = q.side;
  if (q.status_class !== undefined) match.status_code = { op: '=~', value: STATUS_PATTERN[q.status_class] };
  const metric = 'http_request_duration_seconds';
  // Errors: the failed among the selected exchanges (all of them when the filter picks a failing class).
  const failedMatch: Record<string, LabelMatcher> | undefined =
    q.status_class === undefined ? { ...match, status_code: { op: '=~', value: FAILED } } : ['4xx', '5xx', 'none'].includes(q.status_class) ? match : undefined;
  const query = (by: string[], m: Record<string, LabelMatcher>) =>
    new Map(store.window({ metric, by, match: m }, windowMs).map((r) => [by.map((l) => r.labels[l]).join('\u0000'), { labels: r.labels, summary: r.summary as HistogramSummary }]));
  const grouped = (by: string[]) => {
    const failed = failedMatch ? query(by, failedMatch) : new Map<string, { summary: HistogramSummary }>();
    return [...query(by, match).entries()]
      .map(([key, r]) => ({ ...r.labels, ...red(r.summary, failed.get(key)?.summary) }))
      .sort((a, b) => b.requests - a.requests)
      .slice(0, q.limit);
  };
  const total = grouped([])[0] ?? red(undefined, undefined);
  const statusClasses: Record<string, number> = {};
  for (const r of store.window({ metric, by: ['status_code'], match }, windowMs)) {
    const code = r.labels.status_code;
    const cls = code === '0' ? 'none' : `${code[0]}xx`;
    statusClasses[cls] = (statusClasses[cls] ?? 0) + (r.summary as HistogramSummary).count;
  }
  return {
    window: q.window,
    window_seconds: windowMs / 1000,
    generated_at: new Date(nowMs).toISOString(),
    filters: match,
    totals: total,
    status_classes: statusClasses,
    services: grouped(['service', 'side']),
    routes: grouped(['service', 'side', 'method', 'route']),
  };
}


export interface SeriesQuery {
  window: string;
  service?: string;
  route?: string;
  side?: 'server' | 'client';
}

/** About this many points per chart; the step is the smallest kept resolution that gives at most that. */
const TARGET_POINTS = 90;
const STEPS_MS = [10_000, 60_000, 300_000, 900_000, 3_600_000];
/**
 * The store reads its clock again for each query: the window starts this much
 * later than "now" would put it (never more than one step), so the span the
 * store sees stays inside the tier the step was chosen for while the handler runs.
 */
const CLOCK_SLACK_MS = 1000;

/** The step for a window: a multiple of the resolution the store keeps for a span that long, with at most TARGET_POINTS points. */
export function seriesStepMs(store: MetricStore, windowMs: number): number {
  const floorMs = store.resolutionFor('histogram', windowMs);
  return STEPS_MS.find((s) => s >= floorMs && s % floorMs === 0 && windowMs / s <= TARGET_POINTS) ?? Math.max(floorMs, STEPS_MS[STEPS_MS.length - 1]);
}

/**
 * GET /api/series: RED over time for charts. Points at step starts (Unix
 * seconds, as uPlot takes them), only where there was traffic. `nowMs` is read
 * once per request by the caller.
 */
export function apiSeries(store: MetricStore, q: SeriesQuery, windowMs: number, nowMs: number) {
  const match: Record<string, LabelMatcher> = {};
  if (q.service !== undefined) match.service = q.service;
  if (q.route !== undefined) match.route = q.route;
  if (q.side !== undefined) match.side = q.side;
  const metric = 'http_request_duration_seconds';
  const stepMs = seriesStepMs(store, windowMs);
  // windowMs / stepMs steps, the last one the step in progress; aligned to the step, so the
  // store sees a span of at most windowMs (it picks its tier by that span) until the slack runs out.
  const endStepMs = nowMs + CLOCK_SLACK_MS - ((nowMs + CLOCK_SLACK_MS) % stepMs);
  const startMs = endStepMs + stepMs - windowMs;
  const range = (m: Record<string, LabelMatcher>) => store.range({ metric, match: m, by: [] }, startMs, Math.max(startMs, nowMs), stepMs)[0]?.points ?? [];
  const all = range(match);
  const failed = new Map(range({ ...match, status_code: { op: '=~', value: FAILED } }).map((p) => [p.t, p.summary.value]));
  return {
    window: q.window,
    generated_at: new Date(nowMs).toISOString(),
    step_seconds: stepMs / 1000,
    points: all.map((p) => {
      const s = p.summary as HistogramSummary;
      return {
        t: p.t / 1000,
        requests_per_second: s.rate,
        error_rate: s.count > 0 ? (failed.get(p.t) ?? 0) / s.count : 0,
        p50: finite(s.p50),
        p95: finite(s.p95),
        p99: finite(s.p99),
      };
    }),
  };
}
