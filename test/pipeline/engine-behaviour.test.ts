/**
 * The engine's edges: full queues drop and count, custom processors,
 * enabled_metrics, option errors, and the cardinality budget under 100 000
 * distinct paths.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CaptureFileWriter, readCaptureFile } from '../../src/capture/capture-file';
import { Engine } from '../../src/pipeline/engine';
import type { EngineOptions } from '../../src/pipeline/engine-options';
import { batchOf, encodeExchange } from '../helpers/records';
import { randomBatches, randomStream } from '../helpers/streams';

const NOW = 1_800_000_000_000;

async function engineWith(options: Partial<EngineOptions>): Promise<Engine> {
  const engine = await Engine.start({ clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000, ...options });
  t.teardown(() => engine.stop());
  return engine;
}

/** n GET exchanges of `path` that ended a second before NOW. */
function requests(n: number, target: (i: number) => string, extra: Parameters<typeof encodeExchange>[0] = {}): Buffer {
  const endNs = BigInt(NOW - 1000) * 1_000_000n;
  return batchOf(...Array.from({ length: n }, (_, i) => encodeExchange({ comm: 'api', localPort: 8080, head: `GET ${target(i)} HTTP/1.1\r\n\r\n`, startNs: endNs - 2_000_000n, endNs, ...extra })));
}

const total = (engine: Engine, metric: string): number => engine.store.window({ metric, by: [] }, 60_000)[0]?.summary.value ?? 0;

t.test('a full queue drops the newest batch, counts it, and never blocks', async (t) => {
  const engine = await engineWith({ workerThreads: 1, bufferSize: 10 });
  t.equal(engine.ingest(requests(6, () => '/a'), 6), true, 'an empty queue takes the batch');
  t.equal(engine.ingest(requests(5, () => '/b'), 5), false, '6 queued + 5 > 10: dropped');
  t.equal(engine.ingest(requests(20, () => '/c'), 20), false, 'dropped');
  const stats = engine.stats();
  t.equal(stats.droppedBatches, 2);
  t.equal(stats.droppedEvents, 25);
  t.equal(stats.bufferCapacity, 10);
  t.ok(stats.bufferSize === 6 || stats.bufferSize === 0, `queued records: ${stats.bufferSize}`);
  await engine.sync();
  t.same(engine.store.window({ metric: 'http_requests_total', by: ['route'] }, 60_000).map((r) => [r.labels.route, r.summary.value]), [['/a', 6]], 'exactly the accepted batch is in the store');
  t.equal(engine.stats().bufferSize, 0, 'the queue empties');
  t.equal(engine.stats().eventsIn, 31);
  t.equal(engine.stats().eventsProcessed, 6);
});

t.test('a batch larger than the buffer is taken by an empty queue', async (t) => {
  const engine = await engineWith({ workerThreads: 1, bufferSize: 4 });
  t.equal(engine.ingest(requests(50, () => '/big'), 50), true);
  await engine.sync();
  t.equal(total(engine, 'http_requests_total'), 50);
});

t.test('a custom processor plugin runs in every worker and its family is queryable', async (t) => {
  const engine = await engineWith({ workerThreads: 2, processorModules: [path.join(__dirname, '..', 'fixtures', 'slow-requests-processor.js')] });
  const endNs = BigInt(NOW - 1000) * 1_000_000n;
  const slow = (ms: number) => encodeExchange({ comm: 'api', localPort: 8080, head: 'GET /report/7 HTTP/1.1\r\n\r\n', startNs: endNs - BigInt(ms) * 1_000_000n, endNs });
  engine.ingest(batchOf(slow(800), slow(100), slow(900)), 3);
  engine.ingest(batchOf(slow(600), slow(10)), 2);
  await engine.sync();
  t.same(
    engine.store.window({ metric: 'slow_requests_total' }, 60_000).map((r) => [r.labels, r.summary.value]),
    [[{ service: 'api:8080', route: '/report/{id}' }, 3]],
  );
  t.same(Object.keys(engine.stats().processors), ['http', 'network', 'performance', 'error', 'slow']);
  t.equal(engine.stats().processors.slow.eventsIn, 5);
  t.equal(engine.stats().processors.slow.writes, 2, 'one write per group of slow exchanges (one per batch here)');
  t.equal(total(engine, 'http_requests_total'), 5, 'the built-ins still run');
});

t.test('enabled_metrics: only the named families are kept, and idle processors do not run', async (t) => {
  const engine = await engineWith({ workerThreads: 1, enabledMetrics: ['http_requests_total', 'http_request_duration'] });
  engine.ingest(requests(4, () => '/x', { status: 500 }), 4);
  await engine.sync();
  t.equal(total(engine, 'http_requests_total'), 4);
  t.equal(engine.store.window({ metric: 'http_request_duration_seconds', by: [] }, 60_000)[0]?.summary.value, 4);
  for (const off of ['http_responses_total', 'http_errors_total', 'network_bytes_total', 'process_events_total']) t.equal(total(engine, off), 0, `${off}: not kept`);
  const p = engine.stats().processors;
  t.equal(p.error.eventsIn, 0, 'the error processor has nothing to write and does not run');
  t.equal(p.network.eventsIn, 0);
  t.equal(p.http.eventsIn, 4);
});

t.test('bad options stop start-up with the option, the value and the reason', async (t) => {
  const cases: [Partial<EngineOptions>, string][] = [
    [{ workerThreads: 0 }, 'workerThreads: 0 must be an integer in [1, 64]'],
    [{ bufferSize: 2.5 }, 'bufferSize: 2.5 must be an integer in [1, 10000000]'],
    [{ enabledMetrics: ['http_requests_total', 'bogus'] }, 'enabledMetrics: ["http_requests_total","bogus"] names "bogus", which is not a metric'],
    [{ windowSizesMs: [5_000] }, 'windowSizesMs[0]: 5000 must be an integer in [10000, 86400000]'],
    [{ windowSizesMs: [60_000, 90 * 60_000 + 30_000] }, 'windowSizesMs[1]: 5430s is not a multiple of 15m'],
    [{ retentionMs: 3_600_000, windowSizesMs: [7_200_000] }, 'windowSizesMs[0]: 7200000 must be an integer in [10000, 3600000]'],
    [{ routePatterns: ['/a/*/b'] }, 'routePatterns[0]: "/a/*/b" "*" only as the last segment'],
    [{ seriesLimits: { perService: -1 } }, 'seriesLimits.perService: -1 must be an integer'],
    [{ seriesLimits: { services: 0 } }, 'seriesLimits.services: 0 must be an integer in [1, 10000000]'],
    [{ seriesLimits: { idleMs: 1000 } }, 'seriesLimits.idleMs: 1000 must be an integer in [60000, 86400000]'],
    [{ processorModules: ['/nonexistent/plugin.js'] }, 'processors[0] (/nonexistent/plugin.js): cannot be loaded'],
    [{ processorModules: [path.join(__dirname, '..', 'fixtures', 'not-a-processor.js')] }, 'must export { name: string, families: MetricFamily[], create(context) }'],
  ];
  for (const [options, message] of cases) {
    await t.rejects(Engine.start({ clockOffsetMs: 0, ...options }), { code: 'HT_ERR_OPTION', message: new RegExp(message.replace(/[[\]().*+?{}|^$]/g, '\\$&')) }, message);
  }
});

t.test('100 000 distinct paths: series stay under the caps, every observation is counted, memory is bounded', async (t) => {
  const limits = { perService: 200, global: 1000 };
  const engine = await engineWith({ workerThreads: 2, seriesLimits: limits });
  // Letters only: not identifiers, so templating keeps them distinct.
  const word = (i: number): string => i.toString(26).replace(/./g, (c) => String.fromCharCode(97 + parseInt(c, 26)));
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const N = 100_000;
  for (let i = 0; i < N; i += 1000) {
    const batch = requests(1000, (k) => `/p/${word(i + k)}`, { comm: i % 2000 === 0 ? 'api' : 'web' });
    await engine.enqueue(batch, 1000);
  }
  await engine.sync();
  const stats = engine.store.stats();
  t.ok(stats.budget.series <= limits.global, `${stats.budget.series} budgeted series, cap ${limits.global}`);
  t.ok(stats.series <= limits.global + 2 * 10 + 10, `${stats.series} series in all, overflow series included`);
  const rows = engine.store.window({ metric: 'http_requests_total', by: ['service'] }, 60_000);
  t.same(rows.map((r) => [r.labels.service, r.summary.value]).sort(), [['api:8080', N / 2], ['web:8080', N / 2]].sort(), 'every request counted, in its own or an overflow series');
  const overflow = engine.store.window({ metric: 'http_requests_total', match: { route: '__overflow__' }, by: ['service'] }, 60_000);
  t.same(overflow.map((r) => r.labels.service).sort(), ['api:8080', 'web:8080'], 'each service has its overflow series');
  t.ok(stats.budget.foldedTotal > 0, `${stats.budget.foldedTotal} observations folded at the store`);
  const folded = engine.stats().processors.http.folded;
  t.ok(folded > 0, `${folded} writes folded in the shards`);
  global.gc?.();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  t.ok(grown < 64 * 2 ** 20, `heap grew ${(grown / 2 ** 20).toFixed(1)} MiB`);
});

t.test('a recorded capture replayed gives the same store every time, with 1, 2 or 3 workers', async (t) => {
  const stream = randomStream({ seed: 3, count: 5000, startMs: NOW - 30 * 60_000, spanMs: 29 * 60_000 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'capture.htcap');
  const writer = new CaptureFileWriter(file, 0n);
  for (const b of randomBatches(stream.records, 100, 200)) writer.write(b.bytes, b.records);
  writer.close();
  const runs: string[] = [];
  for (let run = 0; run < 3; run++) {
    const engine = await engineWith({ workerThreads: 1 + run });
    await readCaptureFile(file, async (batch, records) => {
      await engine.enqueue(batch, records);
    });
    await engine.sync();
    const rows = [...engine.store.families.keys()].map((metric) => engine.store.window({ metric, by: metric === 'http_request_duration_seconds' ? ['route'] : undefined }, 900_000));
    runs.push(JSON.stringify(rows.map((r) => r.map((x) => JSON.stringify([x.labels, x.summary.value])).sort())));
    await engine.stop();
  }
  t.ok(runs[0].length > 1000, 'a store with something in it');
  t.equal(runs[1], runs[0]);
  t.equal(runs[2], runs[0]);
});
