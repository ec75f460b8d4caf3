/**
 * The engine against a brute-force reference: random streams through real
 * worker threads, every window checked for counts, sums, rates and
 * percentiles, with 1, 2 and 4 workers giving the same answers, and a fake
 * clock for roll-over and retention.
 */
import t, { type Test } from 'tap';
import type { HistogramSummary, Selector, WindowRow } from '../../src/analytics/store';
import { Engine } from '../../src/pipeline/engine';
import type { EngineOptions } from '../../src/pipeline/engine-options';
import { exactQuantile, randomBatches, randomStream, type Fact } from '../helpers/streams';

const START_MS = 1_800_000_000_000;
const SPAN_MS = 2 * 3_600_000;
const WINDOWS: [string, number, number, number][] = [
  // name, window, resolution of the tier that serves it for counters, for histograms
  ['1m', 60_000, 10_000, 10_000],
  ['5m', 300_000, 10_000, 10_000],
  ['15m', 900_000, 10_000, 10_000],
  ['1h', 3_600_000, 60_000, 60_000],
  ['24h', 86_400_000, 900_000, 3_600_000],
];

const TCP_EVENT_FAMILIES = new Set([
  'network_connections_total',
  'network_accepts_total',
  'network_connect_failures_total',
  'network_connect_duration_seconds',
  'network_connection_duration_seconds',
  'tcp_rtt_seconds',
  'tcp_retransmits_total',
  'tcp_resets_total',
  'tcp_bytes_total',
]);

const stream = randomStream({ seed: 7, count: 20_000, startMs: START_MS, spanMs: SPAN_MS });
const batches = randomBatches(stream.records, 11, 300);

async function engineWith(options: Partial<EngineOptions> & { now: () => number }): Promise<Engine> {
  const engine = await Engine.start({ clockOffsetMs: 0, publishIntervalMs: 60_000, flushIntervalMs: 3_600_000, ...options });
  t.teardown(() => engine.stop());
  return engine;
}

async function feed(engine: Engine): Promise<void> {
  for (const b of batches) {
    if (!(await engine.enqueue(b.bytes, b.records))) throw new Error('a batch was dropped by enqueue');
  }
  await engine.sync();
}

/** What a window over `facts` holds, computed from the facts themselves. */
function reference(facts: Fact[], nowMs: number, windowMs: number, resolutionMs: number) {
  const alignedNow = nowMs - (nowMs % resolutionMs);
  const startMs = alignedNow + resolutionMs - windowMs;
  const originMs = Math.min(...facts.map((f) => f.endMs - (f.endMs % 10_000)));
  const seconds = Math.max((nowMs - Math.max(startMs, originMs)) / 1000, 1);
  const inside = facts.filter((f) => {
    const bucket = f.endMs - (f.endMs % resolutionMs);
    return bucket >= startMs && bucket <= alignedNow;
  });
  return { inside, seconds };
}

function groupCount(facts: Fact[], key: (f: Fact) => string, weight: (f: Fact) => number = () => 1): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of facts) m.set(key(f), (m.get(key(f)) ?? 0) + weight(f));
  return m;
}

function rowsByKey(rows: WindowRow[], labels: string[]): Map<string, WindowRow> {
  return new Map(rows.map((r) => [labels.map((l) => r.labels[l]).join(' '), r]));
}

const within1pct = (actual: number, expected: number): boolean => Math.abs(actual - expected) <= 0.01 * Math.abs(expected) + 1e-12;

function checkWindows(t: Test, engine: Engine, facts: Fact[], nowMs: number): void {
  for (const [name, windowMs, resolutionMs, histogramResolutionMs] of WINDOWS.filter(([, w]) => w <= engine.store.retentionMs)) {
    const { inside, seconds } = reference(facts, nowMs, windowMs, resolutionMs);
    const counters: [Selector, (f: Fact) => string, ((f: Fact) => number)?, ((f: Fact) => boolean)?][] = [
      [{ metric: 'http_requests_total', by: ['service', 'side'] }, (f) => `${f.service} ${f.side}`],
      [{ metric: 'http_requests_total', by: ['route', 'method'], match: { side: 'server' } }, (f) => `${f.route} ${f.method}`, undefined, (f) => f.side === 'server'],
      [{ metric: 'http_responses_total', by: ['status_code'] }, (f) => String(f.status)],
      [{ metric: 'http_errors_total', by: ['error_type'] }, (f) => f.errorType, undefined, (f) => f.errorType !== ''],
      [{ metric: 'network_bytes_total', by: ['service'], match: { direction: 'rx' } }, (f) => f.service, (f) => (f.side === 'server' ? f.requestBytes : f.responseBytes)],
      [{ metric: 'process_events_total', by: ['process_name', 'cgroup_id'] }, (f) => `${f.comm} 1`],
      [{ metric: 'http_errors_total', by: ['service'], match: { error_type: { op: '=~', value: '5xx|reset' } } }, (f) => f.service, undefined, (f) => f.errorType === '5xx' || f.errorType === 'reset'],
    ];
    for (const [selector, key, weight, filter] of counters) {
      const expected = groupCount(inside.filter(filter ?? (() => true)), key, weight);
      const rows = rowsByKey(engine.store.window(selector, windowMs), [...(selector.by ?? [])]);
      const what = `${name} ${selector.metric} by ${selector.by?.join(',')}${selector.match ? ' ' + JSON.stringify(selector.match) : ''}`;
      t.same([...rows.keys()].sort(), [...expected.keys()].sort(), `${what}: the same groups`);
      let exact = true;
      for (const [k, value] of expected) {
        const s = rows.get(k)?.summary;
        if (!s || s.value !== value || Math.abs(s.rate - value / seconds) > 1e-9 * s.rate) exact = false;
      }
      t.ok(exact, `${what}: values and rates exact (${expected.size} groups)`);
    }

    for (const [metric, value] of [
      ['http_request_duration_seconds', (f: Fact) => f.durationSeconds],
      ['http_response_size_bytes', (f: Fact) => f.responseBytes],
    ] as const) {
      const rows = rowsByKey(engine.store.window({ metric, by: ['service'] }, windowMs), ['service']);
      const byService = new Map<string, number[]>();
      for (const f of reference(facts, nowMs, windowMs, histogramResolutionMs).inside) byService.set(f.service, [...(byService.get(f.service) ?? []), value(f)]);
      let good = byService.size === rows.size;
      for (const [service, values] of byService) {
        values.sort((a, b) => a - b);
        const s = rows.get(service)?.summary as HistogramSummary | undefined;
        const sum = values.reduce((a, b) => a + b, 0);
        if (!s || s.count !== values.length || s.min !== values[0] || s.max !== values[values.length - 1] || Math.abs(s.sum - sum) > 1e-9 * sum) good = false;
        for (const q of [0.5, 0.9, 0.95, 0.99] as const) {
          const p = s?.[`p${Math.round(q * 100)}` as 'p50'];
          if (p === undefined || !within1pct(p, exactQuantile(values, q))) good = false;
        }
      }
      t.ok(good, `${name} ${metric} by service: count, sum, min, max exact; p50, p90, p95, p99 within 1 %`);
    }
  }
}

/** Every window of every family, rows in label order. */
function everything(engine: Engine): Record<string, WindowRow[]> {
  const out: Record<string, WindowRow[]> = {};
  for (const family of engine.store.families.values()) {
    for (const [name, windowMs] of WINDOWS) {
      const rows = engine.store.window({ metric: family.name }, windowMs);
      rows.sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
      out[`${family.name} ${name}`] = rows;
    }
  }
  return out;
}

/**
 * Where two results differ, or undefined. Integers (counts, buckets) must be
 * equal; other numbers (sums and means of float seconds, added by shards in
 * different orders) may differ by rounding.
 */
function difference(a: unknown, b: unknown, at = ''): string | undefined {
  if (typeof a === 'number' && typeof b === 'number') {
    const same = Number.isInteger(a) && Number.isInteger(b) ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
    return same || (Number.isNaN(a) && Number.isNaN(b)) ? undefined : `${at}: ${a} vs ${b}`;
  }
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b ? undefined : `${at}: ${String(a)} vs ${String(b)}`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = difference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}/${k}`);
    if (d) return d;
  }
  return undefined;
}

t.test('windows match a brute-force reference; 1, 2 and 4 workers agree', async (t) => {
  const nowMs = START_MS + SPAN_MS + 3_000;
  const results: Record<string, WindowRow[]>[] = [];
  for (const workerThreads of [1, 2, 4]) {
    const engine = await engineWith({ workerThreads, now: () => nowMs });
    await feed(engine);
    const stats = engine.stats();
    t.equal(stats.eventsProcessed, stream.facts.length, `${workerThreads} workers: every event processed`);
    t.equal(stats.droppedEvents, 0);
    t.equal(stats.workerThreads, workerThreads);
    if (workerThreads === 1) checkWindows(t, engine, stream.facts, nowMs);
    results.push(everything(engine));
    await engine.stop();
  }
  // The stream holds exchanges only: the families made from TCP events (test/pipeline/tcp-network.test.ts) stay empty.
  const fromExchanges = Object.entries(results[0]).filter(([key]) => !TCP_EVENT_FAMILIES.has(key.split(' ')[0]));
  t.ok(fromExchanges.every(([, rows]) => rows.length > 0), 'every family made from exchanges has rows in every window');
  t.equal(difference(results[1], results[0]), undefined, '2 workers: the same store as 1');
  t.equal(difference(results[2], results[0]), undefined, '4 workers: the same store as 1');
});

t.test('a fake clock rolls windows over and retention frees everything', async (t) => {
  let nowMs = START_MS + SPAN_MS + 3_000;
  const engine = await engineWith({ workerThreads: 2, now: () => nowMs, retentionMs: 3 * 3_600_000 });
  await feed(engine);
  const before = engine.store.stats();
  t.equal(before.tiers[0].buckets, 90, '15 minutes of 10 s buckets');

  nowMs += 20 * 60_000;
  engine.store.expire();
  t.same(engine.store.window({ metric: 'http_requests_total' }, 300_000), [], '5m window: nothing in the last 5 minutes');
  t.equal(engine.store.stats().tiers[0].buckets, 0, 'the 10 s buckets have all aged out');
  checkWindows(t, engine, stream.facts, nowMs);

  nowMs += 3 * 3_600_000;
  engine.store.expire();
  const after = engine.store.stats();
  t.equal(after.series, 0, 'every series forgotten after the retention');
  t.equal(after.cells, 0, 'every bucket freed');
  t.equal(after.budget.series, 0, 'the series budget released');
});

t.test('events older than the retention are dropped and counted', async (t) => {
  const nowMs = START_MS + SPAN_MS + 3_000;
  const engine = await engineWith({ workerThreads: 1, now: () => nowMs, retentionMs: 3_600_000 });
  await feed(engine);
  const stats = engine.store.stats();
  t.ok(stats.lateCells > 1000, `${stats.lateCells} late cells counted`);
  const total = engine.store.window({ metric: 'http_requests_total', by: [] }, 3_600_000)[0]?.summary.value;
  t.equal(total, reference(stream.facts, nowMs, 3_600_000, 60_000).inside.length, 'the last hour is kept, exactly');
  t.throws(() => engine.store.window({ metric: 'http_requests_total' }, 2 * 3_600_000), { message: 'window: 2h is beyond the retention of 1h' });
});
