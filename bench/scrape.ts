/**
 * /metrics with many series: the time one scrape takes and what it
 * allocates, with the store holding N series (three quarters counters, a
 * quarter duration histograms with their 20 fixed buckets), read at scrape
 * time; beside it, in alternate rounds of the same run, the same registry
 * rendered by prom-client (registry.metrics(), the path scrape() took before
 * exposition.ts), which must give the same text; and the time one
 * collectRollup (what the forwarder takes every flush interval) takes.
 *
 *   npm run bench:scrape -- [--series 10000] [--rounds 15]
 *
 * Times are medians over the rounds (wall, and this process's CPU: the
 * machine may be shared). Allocation: the V8 heap bytes a scrape allocates
 * (sampled by the heap profiler, stable from run to run); prom-client's
 * include its text, while scrape() makes its text (a Latin-1 string of more
 * than a MiB) outside the V8 heap, a copy of the one buffer it writes.
 */
import { Session } from 'node:inspector';
import { parseArgs } from 'node:util';
import { engineReaders } from '../src/agent/readers';
import { collectRollup } from '../src/exporters/collect';
import { createExporter } from '../src/exporters/prometheus';
import { engineWithSeries } from './fill-store';

const { values } = parseArgs({ options: { series: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '15' } } });
const SERIES = Number(values.series);
const ROUNDS = Number(values.rounds);
const NOW = 1_800_000_000_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
/** The text without the line that differs by design (the previous scrape's duration). */
const comparable = (text: string): string => text.replace(/^http_tracer_scrape_duration_seconds .*$/m, '');

interface Timed {
  wallMs: number;
  cpuMs: number;
  text: string;
}

async function timed(render: () => Promise<string>): Promise<Timed> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const text = await render();
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  Buffer.byteLength(text); // what the server does next (outside the timing)
  return { wallMs, cpuMs: (used.user + used.system) / 1000, text };
}

/**
 * V8 heap bytes allocated per call, collected or not (the sampling heap
 * profiler, every 512 bytes on average), over `calls` calls; the engine's
 * own thread allocates meanwhile too, but little while idle.
 */
async function heapAllocatedMiB(render: () => Promise<string>, calls: number): Promise<number> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  for (let i = 0; i < calls; i++) await render();
  const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: SamplingNode } };
  session.disconnect();
  const total = (n: SamplingNode): number => n.selfSize + n.children.reduce((sum, c) => sum + total(c), 0);
  return total(profile.head) / calls / 2 ** 20;
}

interface SamplingNode {
  selfSize: number;
  children: SamplingNode[];
}

async function main(): Promise<void> {
  const engine = await engineWithSeries(SERIES, NOW);
  const exporter = createExporter(engineReaders(engine), { processMetrics: false });
  const paths = { 'scrape()': () => exporter.scrape(), 'registry.metrics() (prom-client)': () => exporter.registry.metrics() };
  for (const render of Object.values(paths)) await render(); // warm up, labels rendered

  const runs: Record<string, Timed[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, render] of Object.entries(paths)) (runs[name] ??= []).push(await timed(render));
  }
  const [ours, theirs] = Object.values(runs);
  if (comparable(ours[0].text) !== comparable(theirs[0].text)) throw new Error('scrape() and registry.metrics() differ');
  const mib = (ours[0].text.length / 2 ** 20).toFixed(1);
  console.log(`${engine.store.stats().series} series, ${mib} MiB of text (the same from both paths), medians of ${ROUNDS} alternate rounds:`);
  for (const [name, render] of Object.entries(paths)) {
    const r = runs[name];
    const heapMiB = await heapAllocatedMiB(render, 5);
    console.log(
      `  ${name.padEnd(34)} ${median(r.map((x) => x.wallMs)).toFixed(1).padStart(6)} ms wall (min ${Math.min(...r.map((x) => x.wallMs)).toFixed(1)}), ${median(r.map((x) => x.cpuMs)).toFixed(1).padStart(6)} ms CPU;` +
        ` ${heapMiB.toFixed(2)} MiB of V8 heap allocated per scrape`,
    );
  }

  collectRollup(engine.store, NOW); // warm up
  const rollupRuns = 50;
  const rollupStart = process.hrtime.bigint();
  let rollupSeries = 0;
  for (let i = 0; i < rollupRuns; i++) rollupSeries = collectRollup(engine.store, NOW).series.length;
  const rollupMs = Number(process.hrtime.bigint() - rollupStart) / 1e6 / rollupRuns;
  console.log(`collectRollup: ${rollupSeries} series in ${rollupMs.toFixed(2)} ms per call`);
  await engine.stop();
}

void main();
