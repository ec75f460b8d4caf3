/**
 * The analytics engine's cost per exchange, on synthetic records: 3 services
 * with clients, 5 route shapes with ids, 5 methods, 4 outcomes, log-uniform
 * latencies, all drawn uniformly, so about 450 label combinations are active
 * at once (a worst case for per-batch grouping), at --rate exchanges per
 * second of event time (default 20 000, a busy node). With --skewed, traffic
 * as it usually is instead: one busy service, a few hot routes (Zipf), mostly
 * GET and 200:
 *
 *   1. one thread, end to end: decode → enrich → all four processors →
 *      delta tables, plus publishing to the store every 20 000 events:
 *      ns per event, events per second, bytes allocated per event;
 *   2. the engine with 1, 2 and 4 worker threads (copy, postMessage, shards,
 *      store): ns of wall time per event;
 *
 * Store memory per series and at the cardinality cap: npm run bench:memory.
 *
 *   npm run bench:engine -- [--events 2000000] [--rate 20000] [--skewed]
 *
 * Run it on an idle machine: on two cores, anything else running shows up.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { FAMILIES } from '../src/analytics/families';
import { MetricStore, RESOLUTION_MS } from '../src/analytics/store';
import { Engine } from '../src/pipeline/engine';
import { DEFAULT_SERIES_LIMITS } from '../src/pipeline/engine-options';
import { BUILTIN_PROCESSORS } from '../src/pipeline/processors';
import { Shard } from '../src/pipeline/shard';
import { randomBatches, randomStream } from '../test/helpers/streams';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    rate: { type: 'string', default: '20000' },
    skewed: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const RATE = Number(values.rate);
/** Shards publish every second: every RATE events. */
const PUBLISH_EVERY = RATE;
const PER_BATCH = 256;
const START_MS = 1_800_000_000_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:engine does)');
let collections = 0;
new PerformanceObserver((list) => (collections += list.getEntries().length)).observe({ entryTypes: ['gc'] });

// 50 000 exchanges at RATE per second of event time, replayed over and over.
const SPAN_MS = Math.round((50_000 / RATE) * 1000);
const stream = randomStream({ seed: 1, count: 50_000, startMs: START_MS, spanMs: SPAN_MS, skewed: values.skewed });
const batches = randomBatches(stream.records, 2, PER_BATCH * 2).map((b) => b.bytes);
const recordsIn = (b: Buffer): number => b.length / stream.records[0].length;

function newShard(): Shard {
  return new Shard({
    clockOffsetMs: 0,
    resolutionMs: RESOLUTION_MS,
    routePatterns: [],
    redactPatterns: [],
    limits: DEFAULT_SERIES_LIMITS,
    enabledFamilies: FAMILIES.map((f) => f.name),
    plugins: BUILTIN_PROCESSORS,
  });
}

/** GC entries reach the observer a tick later: wait one before reading `collections`. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function oneThread(): Promise<void> {
  const shard = newShard();
  const store = new MetricStore({ families: FAMILIES, retentionMs: 86_400_000, limits: DEFAULT_SERIES_LIMITS, now: () => START_MS + SPAN_MS });
  const run = (events: number): number => {
    let n = 0;
    let sincePublish = 0;
    for (let i = 0; n < events; i = (i + 1) % batches.length) {
      const k = shard.ingest(batches[i]);
      n += k;
      sincePublish += k;
      if (sincePublish >= PUBLISH_EVERY) {
        store.ingest(shard.drain());
        sincePublish = 0;
      }
    }
    store.ingest(shard.drain());
    return n;
  };
  run(200_000); // warm up: JIT, identities, routes
  gc!();
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const n = run(EVENTS);
  const ns = Number(process.hrtime.bigint() - start) / n;
  const cpu = process.cpuUsage(cpuBefore);
  // Process CPU as well as wall time: on a shared machine the CPU time moves far less.
  console.log(
    `one thread, decode → 4 processors → store: ${ns.toFixed(0)} ns/event, ${(1e9 / ns / 1e6).toFixed(2)} M events/s (${n} events), process CPU ${(((cpu.user + cpu.system) * 1000) / n).toFixed(0)} ns/event`,
  );

  // Allocation: a run short enough to fit the young generation, with no collection during it.
  for (let attempt = 0; attempt < 5; attempt++) {
    gc!();
    const before = memoryInUse();
    const seen = collections;
    const m = run(100_000);
    const allocated = memoryInUse() - before;
    await settled();
    if (collections === seen) {
      console.log(`  allocated: ${(allocated / m).toFixed(1)} bytes/event (heap growth over ${m} events, no collection during the run)`);
      return;
    }
  }
  console.log('  allocated: not measured (a collection ran during every attempt; raise --max-semi-space-size)');
}

async function workers(threads: number): Promise<void> {
  const engine = await Engine.start({ workerThreads: threads, clockOffsetMs: 0, now: () => START_MS + SPAN_MS, publishIntervalMs: 1000 });
  const feed = async (events: number): Promise<number> => {
    let n = 0;
    for (let i = 0; n < events; i = (i + 1) % batches.length) {
      const records = recordsIn(batches[i]);
      await engine.enqueue(batches[i], records);
      n += records;
    }
    await engine.sync();
    return n;
  };
  await feed(200_000);
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const n = await feed(EVENTS);
  const ns = Number(process.hrtime.bigint() - start) / n;
  const cpu = process.cpuUsage(cpuBefore);
  const lost = engine.stats().droppedEvents;
  await engine.stop();
  console.log(
    `${threads} worker(s): ${ns.toFixed(0)} ns/event wall, ${(1e9 / ns / 1e6).toFixed(2)} M events/s, process CPU ${(((cpu.user + cpu.system) * 1000) / n).toFixed(0)} ns/event, dropped ${lost}`,
  );
}

/** JS heap plus typed-array backing stores (outside the heap, where sketches keep their buckets). */
function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function main(): Promise<void> {
  console.log(`traffic: ${values.skewed ? 'skewed (hot services and routes)' : 'uniform over every label combination'}, ${RATE} exchanges/s of event time`);
  await oneThread();
  for (const threads of [1, 2, 4]) await workers(threads);
}

void main();
