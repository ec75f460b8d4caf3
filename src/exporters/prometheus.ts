/**
 * /metrics: an explicit prom-client Registry whose metrics read the store's
 * totals at scrape time (never a prom-client call per exchange).
 *
 *   store series totals --names by naming.ts--> OpenTelemetry histograms
 *                          (http_server_/http_client_request_duration_seconds) and the seed's families:
 *                          the same series, names, labels and values a forwarded rollup carries;
 *                          scrape() writes them with label text rendered once per series (exposition.ts),
 *                          the Registry (registry.metrics()) renders the same text through collectMetric (collect.ts)
 *   store 5m window     --> http_request_duration_seconds_p50/_p95/_p99 (seed; this node only, never forwarded)
 *   health source       --> http_tracer_* (the agent's own health: engine, capture, probes, alerting)
 *   this process        --> http_tracer_build_info, and prom-client's process_* and nodejs_* defaults
 */
import fs from 'node:fs';
import path from 'node:path';
import { collectDefaultMetrics, Registry, type MetricObjectWithValues, type MetricValue, type MetricValueWithName } from 'prom-client';
import type { TargetStats } from '../alerting/types';
import type { ForwardTargetStats } from './forwarder';
import { redRows, type RedGroup } from '../analytics/red';
import type { CaptureStats } from '../capture/capture';
import { packageRoot } from '../package-root';
import type { EngineStats } from '../pipeline/engine';
import { escapeControl } from '../server/safe-text';
import type { HealthSource, StoreReader } from '../server/sources';
import { collectMetric } from './collect';
import { MetricExposition, preRenderable, TextWriter } from './exposition';
import { exportedMetrics, PERCENTILE_NAMES, type ExportedMetric } from './naming';
import type { RollupSeries } from './rollup';

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

const NO_LABELS = {};
const LE = new Map<number | string, { le: number | string }>();
const le = (bound: number | string): { le: number | string } => {
  let labels = LE.get(bound);
  if (!labels) LE.set(bound, (labels = { le: bound }));
  return labels;
};

/**
 * The series of an exported metric as prom-client values, for the Registry's
 * own rendering (registry.metrics(); scrape() writes these metrics with
 * exposition.ts, to the byte the same). A series' labels object is the same
 * at every call (naming.ts), and prom-client formats "sharedLabels" once per
 * object.
 */
function storeMetric(store: StoreReader, metric: ExportedMetric): ScrapeTimeMetric {
  const bucket = `${metric.name}_bucket`;
  const sum = `${metric.name}_sum`;
  const count = `${metric.name}_count`;
  return new ScrapeTimeMetric(metric.name, metric.help, metric.type, () => {
    const series: RollupSeries[] = [];
    collectMetric(store, metric, series);
    const values: Value[] = [];
    for (const s of series) {
      const sharedLabels = s.labels;
      const h = s.histogram;
      if (!h) {
        values.push({ labels: NO_LABELS, sharedLabels, value: s.value } as Value);
        continue;
      }
      for (let i = 0; i < h.bounds.length; i++) values.push({ metricName: bucket, labels: le(h.bounds[i]), sharedLabels, value: h.cumulative[i] } as Value);
      values.push({ metricName: bucket, labels: le('+Inf'), sharedLabels, value: h.count } as Value);
      values.push({ metricName: sum, labels: NO_LABELS, sharedLabels, value: h.sum } as Value);
      values.push({ metricName: count, labels: NO_LABELS, sharedLabels, value: h.count } as Value);
    }
    return values;
  });
}

/** The seed's percentile gauges, per service and side, over a window: RED's latency (src/analytics/red.ts), read once per scrape for the three. This node's only: never forwarded. */
function percentileMetric(rows: () => RedGroup[], q: 'p50' | 'p95' | 'p99', windowMs: number): ScrapeTimeMetric {
  return new ScrapeTimeMetric(
    PERCENTILE_NAMES[q],
    `The ${q.slice(1)}th percentile of HTTP exchange duration over the last ${windowMs / 60_000} minutes on this node, within 1 % (quantiles cannot be summed across nodes: aggregate the histograms).`,
    'gauge',
    () =>
      rows().map((r) => ({
        labels: { service: escapeControl(r.labels.service), side: r.labels.side },
        value: r.latencySeconds[q],
      })),
  );
}

/** What http_tracer_build_info says: the package's version, the Node.js running it. */
export function buildInfo(): { version: string; node_version: string } {
  let version = '';
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(__dirname), 'package.json'), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') version = pkg.version;
  } catch {
    // no package.json to read: the label is left out
  }
  return { version, node_version: process.version };
}

export interface ExporterSources {
  store: StoreReader;
  /** The engine's counters; the capture's and the probes' when capturing (not when replaying). */
  health: HealthSource;
}

export interface ExporterOptions {
  /** The percentile gauges' window. Default 5 minutes. */
  percentileWindowMs?: number;
  /** prom-client's process_* and nodejs_* metrics of this process. Default true. */
  processMetrics?: boolean;
}

/** The Prometheus registry of the agent. Each scrape reads the store; nothing is recorded per exchange. */
export function createExporter(sources: ExporterSources, options: ExporterOptions = {}): { registry: Registry; scrape: () => Promise<string> } {
  const { store, health } = sources;
  const percentileWindowMs = options.percentileWindowMs ?? 300_000;
  const registry = new Registry();
  let lastScrapeSeconds = 0;
  /** The previous text's length: the next one's buffer is made about that size. */
  let lastLength = 0;
  // Each source is read once per scrape, the snapshot shared by the metrics that read it
  // (the capture's read sums the kernel's per-CPU counters).
  const resets: (() => void)[] = [];
  const perScrape = <T>(read: () => T): (() => T) => {
    let snapshot: { value: T } | undefined;
    resets.push(() => (snapshot = undefined));
    return () => (snapshot ??= { value: read() }).value;
  };

  // The store's metrics stay registered (the Registry lists and can render every metric),
  // but scrape() writes them with their pre-rendered label text (exposition.ts).
  const preRendered = new Map<object, MetricExposition>();
  // The duration histogram goes out once, under its OpenTelemetry names; the seed's
  // name carries the percentile gauges (as the seed's example shows).
  for (const metric of exportedMetrics(store.families)) {
    const registered = storeMetric(store, metric);
    registry.registerMetric(registered as never);
    if (preRenderable(metric)) preRendered.set(registered, new MetricExposition(metric));
  }
  if (store.families.has('http_request_duration_seconds')) {
    const rows = perScrape(() => redRows(store, percentileWindowMs, ['service', 'side']));
    for (const q of ['p50', 'p95', 'p99'] as const) registry.registerMetric(percentileMetric(rows, q, percentileWindowMs) as never);
  }

  const stats: () => EngineStats = perScrape(() => health.engineStats());
  const capture: () => CaptureStats | undefined = perScrape(() => health.captureStats?.());
  const own = (name: string, help: string, type: Type, values: () => Value[]): void => registry.registerMetric(new ScrapeTimeMetric(name, help, type, values) as never);
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
  own('http_tracer_events_processed_total', 'Records (exchanges and TCP events) the engine processed.', 'counter', () => [{ value: stats().eventsProcessed, labels: {} }]);
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
    const alerting = perScrape(health.alerting);
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
  if (health.forwarding) {
    const forwarding = perScrape(health.forwarding);
    const perTarget = (value: (t: ForwardTargetStats) => number | undefined) => (): Value[] =>
      forwarding().targets.flatMap((t) => {
        const v = value(t);
        return v === undefined ? [] : [{ labels: { target: escapeControl(t.name), kind: t.kind }, value: v }];
      });
    own('http_tracer_forward_samples_total', 'Samples forwarded to each target, by outcome: sent (accepted), failed (refused for good: a 4xx), retried (sent again after a 429, 5xx or network error), dropped (lost from a full queue).', 'counter', () =>
      forwarding().targets.flatMap((t) =>
        (['sent', 'failed', 'retried', 'dropped'] as const).map((outcome) => ({
          labels: { target: escapeControl(t.name), kind: t.kind, outcome },
          value: { sent: t.samplesSent, failed: t.samplesFailed, retried: t.samplesRetried, dropped: t.samplesDropped }[outcome],
        })),
      ),
    );
    own('http_tracer_forward_queue_bytes', "Bytes of a target's disk queue.", 'gauge', perTarget((t) => t.queueBytes));
    own('http_tracer_forward_queue_records', 'Rollup requests waiting in a target\'s disk queue.', 'gauge', perTarget((t) => t.queueRecords));
    own('http_tracer_forward_oldest_sample_age_seconds', 'Age of the oldest unsent rollup of a target (0: nothing waits).', 'gauge', perTarget((t) => t.oldestSeconds));
    own('http_tracer_forward_last_success_timestamp_seconds', 'When a target last accepted a request (Unix seconds).', 'gauge', perTarget((t) => (t.lastSuccessAt === undefined ? undefined : t.lastSuccessAt / 1000)));
    own('http_tracer_forward_flush_seconds', 'How long the latest rollup took to collect, encode and queue.', 'gauge', () => [{ labels: {}, value: forwarding().lastFlushMs / 1000 }]);
    own('http_tracer_forward_flush_errors_total', 'Rollups that could not be collected or queued (a full disk, an encoder failure).', 'counter', () => [{ labels: {}, value: forwarding().flushErrors }]);
  }
  own('http_tracer_scrape_duration_seconds', 'How long the previous scrape of /metrics took.', 'gauge', () => [{ value: lastScrapeSeconds, labels: {} }]);
  const build = Object.fromEntries(Object.entries(buildInfo()).filter(([, v]) => v !== ''));
  own('http_tracer_build_info', 'The agent\'s version and the Node.js running it; always 1.', 'gauge', () => [{ labels: build, value: 1 }]);
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  return {
    registry,
    async scrape(): Promise<string> {
      const start = process.hrtime.bigint();
      for (const reset of resets) reset();
      const text = await exposition(registry, preRendered, store, lastLength + (lastLength >> 4));
      lastLength = text.length;
      lastScrapeSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      return text;
    },
  };
}

/**
 * What registry.metrics() returns, every metric in the Registry's order, with
 * the store's written by their MetricExposition into one TextWriter: the
 * Registry's own blocks are made first (their reads start in order, as
 * registry.metrics() starts them), then every block is written in order.
 */
async function exposition(registry: Registry, preRendered: ReadonlyMap<object, MetricExposition>, store: StoreReader, sizeHintBytes: number): Promise<string> {
  const metrics = registry.getMetricsAsArray();
  const texts = await Promise.all(metrics.map((m) => (preRendered.has(m) ? undefined : registry.getSingleMetricAsString((m as { name: string }).name))));
  const out = new TextWriter(sizeHintBytes);
  metrics.forEach((metric, i) => {
    if (i > 0) out.text('\n\n');
    const pre = preRendered.get(metric);
    if (pre) pre.write(store, out);
    else out.text(texts[i]!);
  });
  out.text('\n');
  return out.finish();
}
