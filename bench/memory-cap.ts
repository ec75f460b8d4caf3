/**
 * The agent's memory at the series cap: an engine (its worker threads
 * included) whose store holds `--series` latency histogram series (default:
 * the default global cap), each written every 10 s for `--hours` (10
 * exchanges per 10 s, latencies log-uniform over three decades, 1 ms .. 1 s:
 * the "wide" case of bench:engine), then the process RSS, the JS heap and
 * the store's bytes per series.
 *
 *   npm run bench:memory -- [--series 10000] [--hours 24]
 *
 * Feeding 24 h for 10 000 series is 86 million cells: minutes on two cores.
 */
import { parseArgs } from 'node:util';
import type { DeltaCell } from '../src/analytics/cells';
import { Distribution, type DistributionData } from '../src/analytics/distribution';
import { seriesKey } from '../src/analytics/families';
import { RESOLUTION_MS } from '../src/analytics/store';
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
    for (let i = 0; i < 10; i++) d.record(0.001 * Math.pow(10, 3 * rnd()));
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
  console.log(`  RSS ${MiB(after.rss)} (JS heap ${MiB(after.heapUsed)}, array buffers ${MiB(after.arrayBuffers)}; one worker thread)`);
  console.log(`  store: ${(perSeries / 1024).toFixed(1)} KiB per series (heap growth over the feed / series)`);
  await engine.stop();
}

void main();
