/**
 * /metrics with many series: the time one scrape takes and its size, with
 * the store holding N series (three quarters counters, a quarter duration
 * histograms with their 20 fixed buckets), read at scrape time; and the time
 * one collectRollup (what the forwarder takes every flush interval) takes.
 *
 *   npm run bench:scrape -- [--series 10000]
 */
import { parseArgs } from 'node:util';
import { engineReaders } from '../src/agent/readers';
import { collectRollup } from '../src/exporters/collect';
import { createExporter } from '../src/exporters/prometheus';
import { engineWithSeries } from './fill-store';

const { values } = parseArgs({ options: { series: { type: 'string', default: '10000' } } });
const SERIES = Number(values.series);
const NOW = 1_800_000_000_000;

async function main(): Promise<void> {
  const engine = await engineWithSeries(SERIES, NOW);
  const exporter = createExporter(engineReaders(engine), { processMetrics: false });
  await exporter.scrape(); // warm up
  const runs = 10;
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) bytes = (await exporter.scrape()).length;
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / runs;
  console.log(`${engine.store.stats().series} series: ${ms.toFixed(1)} ms per scrape, ${(bytes / 2 ** 20).toFixed(1)} MiB of text`);
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
