/**
 * The agent's memory at the series cap: an engine (its worker threads
 * included) whose store holds `--series` latency histogram series (default:
 * the default global cap), each written every 10 s for `--hours` (10
 * exchanges per 10 s, latencies log-uniform over three decades, 1 ms .. 1 s,
 * in whole nanoseconds as the shards make them: the "wide" case of
 * bench:engine), then the process RSS and what holds it (the JS heap, array
 * buffers, the rest: code, threads and malloc's free space), the store's
 * bytes per series, and how long windows over every series take (the first
 * of five runs compiles).
 *
 *   npm run bench:memory -- [--series 10000] [--hours 24]
 *
 * Feeding 24 h for 10 000 series is 86 million cells: 5 to 10 minutes on two
 * cores; --series 1000 gives the same bytes per series in a tenth of it.
 */
import { parseArgs } from 'node:util';
import type { DeltaCell } from '../src/analytics/cells';
import { Distribution, type DistributionData } from '../src/analytics/distribution';
import { seriesKey } from '../src/analytics/families';
import { RESOLUTION_MS, type HistogramSummary, type WindowRow } from '../src/analytics/store';
import { Engine } from '../src/pipeline/engine';
import { DEFAULT_SERIES_LIMITS } from '../src/pipeline/engine-options';
import { random } from '../test/helpers/streams';

const { values } = parseArgs({ options: { series: { type: 'string', default: String(DEFAULT_SERIES_LIMITS.global) }, hours: { type: 'string', default: '24' } } });
const SERIES = Number(values.series);
const HOURS = Number(values.hours);
const START_MS = 1_800_000_000_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:memory does)');

/** Full collections until the heap stops shrinking: sweeping finishes, garbage strings go. */
async function settle(): Promise<NodeJS.MemoryUsage> {
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
    const used = process.memoryUsage().heapUsed;
    if (used >= last * 0.999) break;
    last = used;
  }
  return process.memoryUsage();
}

const MiB = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

async function main(): Promise<void> {
  let now = START_MS;
  // The budget keeps a fifth of `global` for the floor series of new services: room for SERIES own series.
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => now, seriesLimits: { perService: SERIES, global: Math.ceil(SERIES * 1.25) } });
  const rnd = random(5);
  // A pool of bucket contents, reused: the bench measures the store, not the generator.
  const pool: DistributionData[] = Array.from({ length: 4096 }, () => {
    const d = new Distribution();
    // Whole nanoseconds in seconds, as the shards make them (shard.ts: duration_ns / 1e9).
    for (let i = 0; i < 10; i++) d.record(Math.round(1e6 * Math.pow(10, 3 * rnd())) / 1e9);
    return d.toData();
  });
  const labels = Array.from({ length: SERIES }, (_, i) => [`svc${i % 50}:80`, 'server', '80', 'GET', `/route/${i}`, '200', '']);
  const keys = labels.map((l) => seriesKey(l));
  const before = await settle();
  const ticks = (HOURS * 3_600_000) / RESOLUTION_MS;
  const started = Date.now();
  for (let t = 0; t < ticks; t++) {
    now = START_MS + t * RESOLUTION_MS + 5_000;
    const bucketMs = START_MS + t * RESOLUTION_MS;
    const cells: DeltaCell[] = new Array(SERIES);
    for (let i = 0; i < SERIES; i++) {
      const dist = pool[(t * 7919 + i) % pool.length];
      cells[i] = { family: 'http_request_duration_seconds', labels: labels[i], key: keys[i], bucketMs, value: dist.count, dist, bounds: [] };
    }
    engine.store.ingest(cells);
    if (t % 6 === 0) engine.store.expire();
    if (t % 360 === 0 && t > 0) process.stderr.write(`  ${(t / 360).toFixed(0)} h of ${HOURS} fed (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  const after = await settle();
  const stats = engine.store.stats();
  const perSeries = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / stats.series;
  console.log(`${stats.series} histogram series, each active for ${HOURS} h (10 exchanges per 10 s, 1 ms .. 1 s):`);
  console.log(`  RSS ${MiB(after.rss)}, ${MiB(before.rss)} before the feed (one worker thread)`);
  console.log(`  JS heap: ${MiB(after.heapUsed)} used of ${MiB(after.heapTotal)} reserved; array buffers ${MiB(after.arrayBuffers)}; external ${MiB(after.external)}`);
  console.log(`  RSS not held by the heap or array buffers: ${MiB(after.rss - after.heapTotal - after.arrayBuffers)} (code, threads, malloc's free space)`);
  console.log(`  store: ${(perSeries / 1024).toFixed(1)} KiB per series (heap and array-buffer growth over the feed / series)`);
  // What reading it back costs: windows over every series (the tier each reads: 10 s, 1 min, 1 h buckets).
  const metric = 'http_request_duration_seconds';
  for (const [name, windowMs] of [['5m', 300_000], ['1h', 3_600_000], ['24h', 86_400_000]] as const) {
    const ms: number[] = [];
    let rows: WindowRow[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      rows = engine.store.window({ metric, by: ['service'] }, windowMs);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const p50 = (rows[0].summary as HistogramSummary).p50;
    console.log(`  ${name} window over every series, by service: ${ms.map((m) => m.toFixed(0)).join(' ')} ms in 5 runs (${rows.length} rows; first p50 ${p50})`);
  }
  await engine.stop();
}

void main();
