/**
 * /metrics: an explicit prom-client Registry whose metrics read the store's
 * totals at scrape time (never a prom-client call per exchange).
 *
 *   store series totals --collect at scrape--> seed names (http_requests_total, …; label `path`)
 *                                          --> OpenTelemetry names (http_server_request_duration_seconds, …;
 *                                              the duration histogram goes out under these only)
 *   store 5m window     --------------------> http_request_duration_seconds_p50/_p95/_p99 (seed)
 *   health source       --------------------> http_tracer_* (the agent's own health: engine, capture, probes)
 */
import { Registry, type MetricObjectWithValues, type MetricValue, type MetricValueWithName } from 'prom-client';
import type { TargetStats } from '../alerting/types';
import type { MetricFamily } from '../analytics/families';
import { redRows } from '../analytics/red';
import type { Series } from '../analytics/store';
import type { CaptureStats } from '../capture/capture';
import type { EngineStats } from '../pipeline/engine';
import { escapeControl } from '../server/safe-text';
import type { HealthSource, StoreReader } from '../server/sources';

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

/**
 * A series' exported labels, made once per series and exporter: prom-client
 * formats "sharedLabels" once per object (a WeakMap), so a histogram's 17
 * lines, and every later scrape, reuse the same formatted text.
 */
function labelCache(family: MetricFamily, rename: Record<string, string>, skip: readonly string[] = []): (series: Series) => Record<string, string> {
  const cache = new WeakMap<Series, Record<string, string>>();
  return (series) => {
    let labels = cache.get(series);
    if (!labels) {
      labels = {};
      for (let i = 0; i < family.labels.length; i++) {
        const name = family.labels[i];
        // An empty label is an absent one to Prometheus (and OpenTelemetry sets error.type only on errors): left out.
        if (skip.includes(name) || series.labels[i] === '') continue;
        // prom-client escapes only \, " and newline: the other control characters are ours to escape.
        labels[rename[name] ?? name] = escapeControl(series.labels[i]);
      }
      cache.set(series, labels);
    }
    return labels;
  };
}

const NO_LABELS = {};
const LE = new Map<number | string, { le: number | string }>();
const le = (bound: number | string): { le: number | string } => {
  let labels = LE.get(bound);
  if (!labels) LE.set(bound, (labels = { le: bound }));
  return labels;
};

/** Cumulative buckets, sum and count of a histogram series' totals. */
function histogramValues(out: Value[], name: string, family: MetricFamily, series: Series, sharedLabels: Record<string, string>): void {
  const h = series.total.histogram!;
  const bucket = `${name}_bucket`;
  let cumulative = 0;
  const boundaries = family.boundaries ?? [];
  for (let i = 0; i < boundaries.length; i++) {
    cumulative += h.bounds[i];
    out.push({ metricName: bucket, labels: le(boundaries[i]), sharedLabels, value: cumulative } as Value);
  }
  out.push({ metricName: bucket, labels: le('+Inf'), sharedLabels, value: h.count } as Value);
  out.push({ metricName: `${name}_sum`, labels: NO_LABELS, sharedLabels, value: h.sum } as Value);
  out.push({ metricName: `${name}_count`, labels: NO_LABELS, sharedLabels, value: h.count } as Value);
}

function familyMetric(store: StoreReader, family: MetricFamily): ScrapeTimeMetric {
  const labelsOf = labelCache(family, SEED_LABEL);
  return new ScrapeTimeMetric(family.name, family.help, family.kind, () => {
    const values: Value[] = [];
    for (const s of store.seriesOf(family.name)) {
      if (family.kind === 'histogram') histogramValues(values, family.name, family, s, labelsOf(s));
      else values.push({ labels: NO_LABELS, sharedLabels: labelsOf(s), value: s.total.value } as Value);
    }
    return values;
  });
}

/** http_server_request_duration_seconds / http_client_request_duration_seconds from the duration family; error_type (OpenTelemetry's error.type) only on errors. */
function otelDurationMetric(store: StoreReader, family: MetricFamily, side: 'server' | 'client'): ScrapeTimeMetric {
  const name = `http_${side}_request_duration_seconds`;
  const sideIndex = family.labels.indexOf('side');
  const labelsOf = labelCache(family, OTEL_LABEL, ['side']);
  return new ScrapeTimeMetric(name, `Duration of HTTP ${side} requests (OpenTelemetry semantic conventions).`, 'histogram', () => {
    const values: Value[] = [];
    for (const s of store.seriesOf(family.name)) {
      if (s.labels[sideIndex] === side) histogramValues(values, name, family, s, labelsOf(s));
    }
    return values;
  });
}

/** The seed's percentile gauges, per service and side, over a window: RED's latency (src/analytics/red.ts). */
function percentileMetric(store: StoreReader, q: 'p50' | 'p95' | 'p99', windowMs: number): ScrapeTimeMetric {
  return new ScrapeTimeMetric(
    `http_request_duration_seconds_${q}`,
    `The ${q.slice(1)}th percentile of HTTP exchange duration over the last ${windowMs / 60_000} minutes, within 1 %.`,
    'gauge',
    () =>
      redRows(store, windowMs, ['service', 'side']).map((r) => ({
        labels: { service: escapeControl(r.labels.service), side: r.labels.side },
        value: r.latencySeconds[q],
      })),
  );
}

export interface ExporterSources {
  store: StoreReader;
  /** The engine's counters; the capture's and the probes' when capturing (not when replaying). */
  health: HealthSource;
}

/** The Prometheus registry of the agent. Each scrape reads the store; nothing is recorded per exchange. */
export function createExporter(sources: ExporterSources, percentileWindowMs = 300_000): { registry: Registry; scrape: () => Promise<string> } {
  const { store, health } = sources;
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
  // One snapshot of the engine's counters per scrape, shared by the metrics that read it.
  let engineStats: EngineStats | undefined;
  const stats = (): EngineStats => (engineStats ??= health.engineStats());
  // The same for the capture's counters (each read sums the kernel's per-CPU counters).
  let captureStats: CaptureStats | undefined;
  const capture = (): CaptureStats | undefined => (captureStats ??= health.captureStats?.());
  const own = (name: string, help: string, type: Type, values: () => Value[]): void => registry.registerMetric(new ScrapeTimeMetric(name, help, type, values) as never);
  let alertingSnapshot = (): void => undefined;
  own('http_tracer_events_lost_total', 'Exchanges the agent could not count, by reason (kernel, addon and engine queues).', 'counter', () => {
    const lost: Record<string, number> = { ...(capture()?.lost.byReason ?? {}), engine_queue_full: stats().droppedEvents };
    return Object.entries(lost).map(([reason, value]) => ({ labels: { reason }, value }));
  });
  own('http_tracer_kernel_events_total', 'What the kernel side did, by kind: exchanges emitted, of which aborted and headless (pipelined past the 32 kept with heads), request lines refused as not HTTP, forced wake-ups.', 'counter', () => {
    const k = capture()?.kernel;
    if (!k) return [];
    const kinds = { exchanges: k.exchanges, aborted: k.aborted, headless: k.headless, not_http: k.notHttp, wakeups: k.wakeups };
    return Object.entries(kinds).map(([kind, value]) => ({ labels: { kind }, value }));
  });
  own('http_tracer_capture_stalls_total', 'Times the poll thread left records in the ring buffer because JavaScript had not consumed earlier batches (back-pressure, not loss).', 'counter', () => {
    const c = capture();
    return c ? [{ labels: {}, value: c.stalls }] : [];
  });
  own('http_tracer_capture_stalled_seconds_total', 'Time the poll thread spent so.', 'counter', () => {
    const c = capture();
    return c ? [{ labels: {}, value: c.stalledMs / 1000 }] : [];
  });
  own('http_tracer_events_processed_total', 'Exchanges the engine processed.', 'counter', () => [{ value: stats().eventsProcessed, labels: {} }]);
  own('http_tracer_queue_records', 'Records waiting in the engine queues.', 'gauge', () => [{ value: stats().bufferSize, labels: {} }]);
  own('http_tracer_queue_capacity_records', 'What the engine queues can hold.', 'gauge', () => [{ value: stats().bufferCapacity, labels: {} }]);
  own('http_tracer_series', 'Series held by the store.', 'gauge', () => [{ value: store.seriesCount, labels: {} }]);
  own('http_tracer_series_folded_total', 'Series updates folded by the cardinality budget, by reason: route (the route became __overflow__ first), service (past max_services), global (past max_series).', 'counter', () =>
    Object.entries(store.budgetStats().folded).map(([reason, value]) => ({ labels: { reason }, value })),
  );
  own('http_tracer_processor_events_total', 'Exchanges each processor handled.', 'counter', () =>
    Object.entries(stats().processors).map(([processor, p]) => ({ labels: { processor: escapeControl(processor) }, value: p.eventsIn })),
  );
  own('http_tracer_processor_seconds_total', 'Time each processor spent.', 'counter', () =>
    Object.entries(stats().processors).map(([processor, p]) => ({ labels: { processor: escapeControl(processor) }, value: p.timeNs / 1e9 })),
  );
  if (health.probes) {
    const probes = health.probes;
    const attached = probes.filter((p) => p.attached).length;
    own('http_tracer_probes_attached', 'eBPF programs attached, and expected.', 'gauge', () => [
      { labels: { state: 'attached' }, value: attached },
      { labels: { state: 'expected' }, value: probes.length },
    ]);
  }
  if (health.alerting) {
    const read = health.alerting;
    // One snapshot per scrape, shared by the alerting metrics.
    let snapshot: ReturnType<typeof read> | undefined;
    alertingSnapshot = () => (snapshot = undefined);
    const alerting = (): ReturnType<typeof read> => (snapshot ??= read());
    own('http_tracer_alerts', 'Alert instances (one per rule and group) by state.', 'gauge', () => [
      { labels: { state: 'pending' }, value: alerting().stats.instances.pending },
      { labels: { state: 'firing' }, value: alerting().stats.instances.firing },
    ]);
    own('http_tracer_alert_evaluations_total', 'Evaluations of every enabled rule (one per flush interval).', 'counter', () => [{ labels: {}, value: alerting().stats.evaluations }]);
    own('http_tracer_alert_rule_failures_total', 'Rule evaluations that failed.', 'counter', () => [{ labels: {}, value: alerting().stats.failures }]);
    own('http_tracer_alert_evaluation_seconds', 'How long the latest evaluation of every rule took.', 'gauge', () => [{ labels: {}, value: alerting().stats.lastEvaluationMs / 1000 }]);
    const perTarget = (value: (t: TargetStats) => number) => (): Value[] => alerting().targets.map((t) => ({ labels: { target: escapeControl(t.name), kind: t.kind }, value: value(t) }));
    own('http_tracer_notifications_sent_total', 'Notifications a target accepted.', 'counter', perTarget((t) => t.sent));
    own('http_tracer_notifications_failed_total', 'Notification attempts that failed (each retry counts), by target.', 'counter', perTarget((t) => t.failed));
    own('http_tracer_notifications_dropped_total', 'Notifications dropped from a full queue (repeats of firing alerts first; never a resolve within the memory guard).', 'counter', perTarget((t) => t.dropped));
    own('http_tracer_notifications_queued', 'Notifications waiting for a target (retrying or not yet sent).', 'gauge', perTarget((t) => t.queued));
  }
  own('http_tracer_scrape_duration_seconds', 'How long the previous scrape of /metrics took.', 'gauge', () => [{ value: lastScrapeSeconds, labels: {} }]);

  return {
    registry,
    async scrape(): Promise<string> {
      const start = process.hrtime.bigint();
      engineStats = undefined;
      captureStats = undefined;
      alertingSnapshot();
      const text = await registry.metrics();
      lastScrapeSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      return text;
    },
  };
}
