/**
 * /metrics: an explicit prom-client Registry whose metrics read the store's
 * totals at scrape time (never a prom-client call per exchange).
 *
 *   store series totals --collect at scrape--> seed names (http_requests_total, …; label `path`)
 *                                          --> OpenTelemetry names (http_server_request_duration_seconds, …;
 *                                              the duration histogram goes out under these only)
 *   store 5m window     --------------------> http_request_duration_seconds_p50/_p95/_p99 (seed)
 *   engine, capture     --------------------> http_tracer_* (the agent's own health)
 */
import { Registry, type MetricObjectWithValues, type MetricValue, type MetricValueWithName } from 'prom-client';
import type { MetricFamily } from '../analytics/families';
import type { HistogramSummary, MetricStore, Series } from '../analytics/store';
import type { CaptureStats } from '../capture/capture';
import type { Engine } from '../pipeline/engine';

type Value = MetricValue<string> | MetricValueWithName<string>;
type Type = 'counter' | 'gauge' | 'histogram';

/** A metric whose values are computed when Prometheus scrapes. */
class ScrapeTimeMetric {
  readonly name: string;
  readonly help: string;
  readonly type: Type;
  private readonly values: () => Value[];

  constructor(name: string, help: string, type: Type, values: () => Value[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.values = values;
  }

  /** What prom-client's Registry reads from each metric. */
  get(): MetricObjectWithValues<Value> {
    return { name: this.name, help: this.help, type: this.type as never, values: this.values(), aggregator: 'sum', collect: () => undefined };
  }
}

/** Store label names as exported: the seed calls the templated route `path`. */
const SEED_LABEL: Record<string, string> = { route: 'path' };
/** OpenTelemetry semantic-convention label names. */
const OTEL_LABEL: Record<string, string> = {
  service: 'service_name',
  method: 'http_request_method',
  status_code: 'http_response_status_code',
  route: 'http_route',
  server_port: 'server_port',
};

function labelsOf(family: MetricFamily, series: Series, rename: Record<string, string>, skip: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  family.labels.forEach((name, i) => {
    if (!skip.includes(name)) out[rename[name] ?? name] = series.labels[i];
  });
  return out;
}

/** Cumulative buckets, sum and count of a histogram series' totals. */
function histogramValues(name: string, family: MetricFamily, series: Series, labels: Record<string, string>): Value[] {
  const h = series.total.histogram!;
  const out: Value[] = [];
  let cumulative = 0;
  (family.boundaries ?? []).forEach((le, i) => {
    cumulative += h.bounds[i];
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
  });
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

function familyMetric(store: MetricStore, family: MetricFamily): ScrapeTimeMetric {
  return new ScrapeTimeMetric(family.name, family.help, family.kind, () => {
    const values: Value[] = [];
    for (const s of store.seriesOf(family.name)) {
      const labels = labelsOf(family, s, SEED_LABEL);
      if (family.kind === 'histogram') values.push(...histogramValues(family.name, family, s, labels));
      else values.push({ labels, value: s.total.value });
    }
    return values;
  });
}

/** http_server_request_duration_seconds / http_client_request_duration_seconds from the duration family. */
function otelDurationMetric(store: MetricStore, family: MetricFamily, side: 'server' | 'client'): ScrapeTimeMetric {
  const name = `http_${side}_request_duration_seconds`;
  const sideIndex = family.labels.indexOf('side');
  return new ScrapeTimeMetric(name, `Duration of HTTP ${side} requests (OpenTelemetry semantic conventions).`, 'histogram', () => {
    const values: Value[] = [];
    for (const s of store.seriesOf(family.name)) {
      if (s.labels[sideIndex] === side) values.push(...histogramValues(name, family, s, labelsOf(family, s, OTEL_LABEL, ['side'])));
    }
    return values;
  });
}

/** The seed's percentile gauges, per service and side, over a window. */
function percentileMetric(store: MetricStore, q: 'p50' | 'p95' | 'p99', windowMs: number): ScrapeTimeMetric {
  return new ScrapeTimeMetric(
    `http_request_duration_seconds_${q}`,
    `The ${q.slice(1)}th percentile of HTTP exchange duration over the last ${windowMs / 60_000} minutes, within 1 %.`,
    'gauge',
    () =>
      store.window({ metric: 'http_request_duration_seconds', by: ['service', 'side'] }, windowMs).map((r) => ({
        labels: r.labels,
        value: (r.summary as HistogramSummary)[q],
      })),
  );
}

export interface ExporterSources {
  engine: Engine;
  /** The capture's counters, when capturing (not when replaying). */
  capture?: () => CaptureStats;
  /** Probes attached and expected, when capturing. */
  probes?: { attached: number; total: number };
}

/** The Prometheus registry of the agent. Each scrape reads the store; nothing is recorded per exchange. */
export function createExporter(sources: ExporterSources, percentileWindowMs = 300_000): { registry: Registry; scrape: () => Promise<string> } {
  const { engine } = sources;
  const store = engine.store;
  const registry = new Registry();
  // The duration histogram goes out once, under its OpenTelemetry names; the seed's
  // name carries the percentile gauges (as the seed's example shows).
  for (const family of store.families.values()) if (family.name !== 'http_request_duration_seconds') registry.registerMetric(familyMetric(store, family) as never);
  const duration = store.families.get('http_request_duration_seconds');
  if (duration) {
    registry.registerMetric(otelDurationMetric(store, duration, 'server') as never);
    registry.registerMetric(otelDurationMetric(store, duration, 'client') as never);
    for (const q of ['p50', 'p95', 'p99'] as const) registry.registerMetric(percentileMetric(store, q, percentileWindowMs) as never);
  }

  let lastScrapeSeconds = 0;
  const own = (name: string, help: string, type: Type, values: () => Value[]): void => registry.registerMetric(new ScrapeTimeMetric(name, help, type, values) as never);
  own('http_tracer_events_lost_total', 'Exchanges the agent could not count, by reason (kernel, addon and engine queues).', 'counter', () => {
    const lost: Record<string, number> = { ...(sources.capture?.().lost.byReason ?? {}), engine_queue_full: engine.stats().droppedEvents };
    return Object.entries(lost).map(([reason, value]) => ({ labels: { reason }, value }));
  });
  own('http_tracer_events_processed_total', 'Exchanges the engine processed.', 'counter', () => [{ value: engine.stats().eventsProcessed, labels: {} }]);
  own('http_tracer_queue_records', 'Records waiting in the engine queues.', 'gauge', () => [{ value: engine.stats().bufferSize, labels: {} }]);
  own('http_tracer_queue_capacity_records', 'What the engine queues can hold.', 'gauge', () => [{ value: engine.stats().bufferCapacity, labels: {} }]);
  own('http_tracer_series', 'Series held by the store.', 'gauge', () => [{ value: store.seriesCount, labels: {} }]);
  own('http_tracer_series_folded_total', 'Observations folded into an overflow series by the cardinality budget.', 'counter', () => [
    { value: store.budgetStats().foldedTotal, labels: {} },
  ]);
  own('http_tracer_processor_events_total', 'Exchanges each processor handled.', 'counter', () =>
    Object.entries(engine.stats().processors).map(([processor, p]) => ({ labels: { processor }, value: p.eventsIn })),
  );
  own('http_tracer_processor_seconds_total', 'Time each processor spent.', 'counter', () =>
    Object.entries(engine.stats().processors).map(([processor, p]) => ({ labels: { processor }, value: p.timeNs / 1e9 })),
  );
  if (sources.probes) {
    const probes = sources.probes;
    own('http_tracer_probes_attached', 'eBPF programs attached, and expected.', 'gauge', () => [
      { labels: { state: 'attached' }, value: probes.attached },
      { labels: { state: 'expected' }, value: probes.total },
    ]);
  }
  own('http_tracer_scrape_duration_seconds', 'How long the previous scrape of /metrics took.', 'gauge', () => [{ value: lastScrapeSeconds, labels: {} }]);

  return {
    registry,
    async scrape(): Promise<string> {
      const start = process.hrtime.bigint();
      const text = await registry.metrics();
      lastScrapeSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      return text;
    },
  };
}
