/**
 * The pre-rendered exposition (src/exporters/exposition.ts): scrape() must
 * be byte for byte what prom-client's Registry renders from the same metrics
 * (registry.metrics() still can), for label values that are awkward to
 * write — Latin-1, past Latin-1, quotes, backslashes, control characters,
 * none at all — and values that are not small integers; the label text is
 * made once per series, not per scrape.
 */
import t from 'tap';
import type { DeltaCell } from '../../src/analytics/cells';
import { Distribution } from '../../src/analytics/distribution';
import { FAMILIES, seriesKey } from '../../src/analytics/families';
import { MetricStore } from '../../src/analytics/store';
import { MetricExposition, preRenderable, TextWriter, valueText } from '../../src/exporters/exposition';
import { exportedMetrics, type ExportedMetric } from '../../src/exporters/naming';
import { createExporter } from '../../src/exporters/prometheus';
import type { EngineStats } from '../../src/pipeline/engine';
import { NO_HTTP_IDENTITY } from '../helpers/identity-labels';

const NOW = 1_800_000_000_000;
const ENGINE_STATS: EngineStats = {
  status: 'running',
  workerThreads: 1,
  bufferSize: 0,
  bufferCapacity: 0,
  eventsIn: 0,
  eventsProcessed: 0,
  droppedBatches: 0,
  droppedEvents: 0,
  truncatedBytes: 0,
  unknownRecords: 0,
  processors: {},
  failures: [],
  workersAlive: 1,
};

/** Route values and counter totals that are awkward to write. */
const ROUTES = ['/plain', '/caf\u00e9', '/\u20acuro', '/\u65e5\u672c', '/a"b\\c', '/new\nline', '/bell\x07', '/del\x7f\x9b', ''];
const TOTALS = [1, 0, 9, 10, 99, 1234567, 2 ** 53 + 2, 1e21, 0.1, 123456.789, 1e-7, NaN, Infinity];

function storeWithAwkwardSeries(): MetricStore {
  const store = new MetricStore({ families: FAMILIES, retentionMs: 3_600_000, limits: { perService: 1e6, global: 1e6 }, now: () => NOW });
  const cells: DeltaCell[] = [];
  const identity = (i: number): readonly string[] => (i % 2 === 0 ? NO_HTTP_IDENTITY : ['sh\u00f6p', ...NO_HTTP_IDENTITY.slice(1)]);
  ROUTES.forEach((route, i) => {
    const service = i === 3 ? '\u65e5\u672c:80' : `svc${i}:80`;
    TOTALS.forEach((value, k) => {
      const labels = [service, 'server', '80', k % 3 === 0 ? 'GET' : 'POST', `${route}${k}`, ...identity(i)];
      cells.push({ family: 'http_requests_total', labels, key: seriesKey(labels), bucketMs: NOW - 10_000, value });
    });
    const d = new Distribution();
    for (let k = 0; k < 5; k++) d.record(0.0013 * (k + 1) * (i + 1));
    for (const [status, errorType] of [['200', ''], ['503', '5xx'], ['0', 'aborted']]) {
      const labels = [service, i % 3 === 0 ? 'client' : 'server', '80', 'GET', route, status, errorType, ...identity(i)];
      cells.push({ family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs: NOW - 10_000, value: 5, dist: d.toData(), bounds: [0, 0, 0, 1, 4, ...new Array(15).fill(0)] });
    }
  });
  const proc = ['n\u00e9ginx', '7'];
  cells.push({ family: 'process_events_total', labels: proc, key: seriesKey(proc), bucketMs: NOW - 10_000, value: 3 });
  store.ingest(cells);
  return store;
}

/** The text but for the line that differs by design between two scrapes. */
const comparable = (text: string): string => text.replace(/^http_tracer_scrape_duration_seconds .*$/m, '');

t.test("scrape() is prom-client's rendering of the same registry, byte for byte", async (t) => {
  const store = storeWithAwkwardSeries();
  const exporter = createExporter({ store, health: { engineStats: () => ENGINE_STATS } }, { processMetrics: false });
  const ours = await exporter.scrape();
  const theirs = await exporter.registry.metrics();
  t.ok(/http_route="\/\u20acuro"/.test(ours) && /\\\\x07/.test(ours) && / Nan$/m.test(ours) && / \+Inf$/m.test(ours) && /a\\"b\\\\\\\\c/.test(ours), 'the awkward values are in it');
  if (comparable(ours) !== comparable(theirs)) {
    const [a, b] = [ours.split('\n'), theirs.split('\n')];
    const at = a.findIndex((line, i) => line !== b[i]);
    t.equal(a[at], b[at], `first difference at line ${at + 1}`);
  }
  t.equal(comparable(ours), comparable(theirs));
  t.equal(comparable(await exporter.scrape()), comparable(ours), 'and the same again at the next scrape');

  const latin1 = createExporter({ store: latin1Only(), health: { engineStats: () => ENGINE_STATS } }, { processMetrics: false });
  t.equal(comparable(await latin1.scrape()), comparable(await latin1.registry.metrics()), 'all Latin-1 (the one-buffer path): the same too');
});

function latin1Only(): MetricStore {
  const store = new MetricStore({ families: FAMILIES, retentionMs: 3_600_000, limits: { perService: 1e6, global: 1e6 }, now: () => NOW });
  const labels = ['caf\u00e9:80', 'server', '80', 'GET', '/\u00fc"\\', ...NO_HTTP_IDENTITY];
  const d = new Distribution();
  d.record(0.004);
  const dl = ['caf\u00e9:80', 'server', '80', 'GET', '/\u00fc', '200', '', ...NO_HTTP_IDENTITY];
  store.ingest([
    { family: 'http_requests_total', labels, key: seriesKey(labels), bucketMs: NOW - 10_000, value: 2 ** 40 },
    { family: 'http_request_duration_seconds', labels: dl, key: seriesKey(dl), bucketMs: NOW - 10_000, value: 1, dist: d.toData(), bounds: [0, 0, 0, 0, 1, ...new Array(15).fill(0)] },
  ]);
  return store;
}

t.test('label text is made once per series, not per scrape', async (t) => {
  const store = storeWithAwkwardSeries();
  const exporter = createExporter({ store, health: { engineStats: () => ENGINE_STATS } }, { processMetrics: false });
  const counted = new Map<string, number>();
  for (const metric of exportedMetrics(store.families) as ExportedMetric[]) {
    const make = metric.makeLabels;
    metric.makeLabels = (series) => {
      counted.set(metric.name, (counted.get(metric.name) ?? 0) + 1);
      return make(series);
    };
  }
  for (let i = 0; i < 3; i++) await exporter.scrape();
  const series = (name: string): number => [...store.seriesOf(name)].length;
  t.equal(counted.get('http_requests_total'), series('http_requests_total'), 'counters: once each over three scrapes');
  t.equal((counted.get('http_server_request_duration_seconds') ?? 0) + (counted.get('http_client_request_duration_seconds') ?? 0), series('http_request_duration_seconds'), 'histograms: once each');
});

t.test("TextWriter: values as prom-client writes them, a buffer that grows, text past Latin-1 kept in order", async (t) => {
  const numbers = [0, -0, 1, 9, 10, 11, 99, 100, 101, 1e15, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 60, 1.2345678901234568e20, 1e21, 1.5, 0.1, -1, -12.5, 1e-7, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity];
  const w = new TextWriter(0);
  const want: string[] = [];
  for (let round = 0; round < 4000; round++) {
    for (const v of numbers) {
      w.value(v);
      w.text(' ');
      want.push(valueText(v), ' ');
    }
    if (round % 1000 === 7) {
      w.text('\u20ac|');
      want.push('\u20ac|');
    }
    w.bytes(Buffer.from('\u00e9\n', 'latin1'));
    want.push('\u00e9\n');
  }
  const text = w.finish();
  t.equal(text, want.join(''), `${(text.length / 2 ** 20).toFixed(1)} MiB, from a buffer of 64 KiB`);
  t.equal(valueText(NaN), 'Nan', "prom-client's spelling");
});

t.test('a histogram with a label named "le" is left to the Registry', async (t) => {
  const metrics = exportedMetrics(latin1Only().families);
  const [counter, histogram] = [metrics.find((m) => m.type === 'counter')!, metrics.find((m) => m.type === 'histogram')!];
  t.ok(preRenderable(counter) && preRenderable(histogram));
  const withLe: ExportedMetric = { ...histogram, labelNames: [...histogram.labelNames, 'le'] };
  t.notOk(preRenderable(withLe));
  t.throws(() => new MetricExposition(withLe));
  t.ok(preRenderable({ ...counter, labelNames: ['le'] }), "a counter's le is written as any label");
});
