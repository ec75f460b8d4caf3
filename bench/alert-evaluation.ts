/**
 * What one rule costs per evaluation interval with the store holding N
 * duration series (the RED family every RED rule reads: 20 services, one
 * route each per series, every seventh a 5xx), spread over the last minute.
 * Each rule kind is evaluated alone, many times; the figure is the mean
 * wall time of one evaluation (the main thread's cost per rule per interval).
 *
 *   npm run bench:alerts -- [--series 10000] [--runs 50]
 */
import { parseArgs } from 'node:util';
import { Alerting } from '../src/alerting/alerting';
import { rulesFromConfig } from '../src/alerting/rule-input';
import type { DeltaCell } from '../src/analytics/cells';
import { Distribution } from '../src/analytics/distribution';
import { seriesKey } from '../src/analytics/families';
import { Engine } from '../src/pipeline/engine';
import { MemoryIncidentRepository, MemoryRuleRepository } from '../test/helpers/memory-repositories';

const { values } = parseArgs({ options: { series: { type: 'string', default: '10000' }, runs: { type: 'string', default: '50' } } });
const SERIES = Number(values.series);
const RUNS = Number(values.runs);
const NOW = 1_800_000_000_000;

const RULES: Record<string, unknown> = {
  'http_errors_total_rate > 1 per service': { metric: 'http_errors_total_rate', condition: 'gt', threshold: 1 },
  'error_rate > 0.05 per service': { metric: 'error_rate', condition: 'gt', threshold: 0.05 },
  'p95 > 0.5 s per service': { metric: 'http_request_duration_histogram_p95', condition: 'gt', threshold: 0.5 },
  'p99 > 1 s per service and route (1000 groups kept)': { metric: 'http_request_duration_histogram_p99', condition: 'gt', threshold: 1, group_by: ['service', 'route'] },
  'anomaly on request rate per service': { metric: 'http_requests_total_rate', alert_type: 'anomaly', condition: 'gt' },
  'http_requests_total_rate > 100 (the counter family)': { metric: 'http_requests_total_rate', condition: 'gt', threshold: 100 },
};

async function main(): Promise<void> {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, seriesLimits: { perService: 1e6, global: 1e6 } });
  const cells: DeltaCell[] = [];
  for (let i = 0; i < SERIES; i++) {
    const d = new Distribution();
    for (let k = 0; k < 10; k++) d.record(0.001 * ((i % 50) + k + 1));
    const service = `svc${i % 20}:80`;
    const failed = i % 7 === 0;
    const labels = [service, 'server', '80', 'GET', `/route/${i}`, failed ? '500' : '200', failed ? '5xx' : ''];
    // Spread over the last minute, in 10 s buckets.
    const bucketMs = NOW - (NOW % 10_000) - 10_000 * (1 + (i % 6));
    cells.push({ family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs, value: 10, dist: d.toData(), bounds: [10, ...new Array(14).fill(0)] });
    const counter = [service, 'server', '80', 'GET', `/route/${i}`];
    cells.push({ family: 'http_requests_total', labels: counter, key: seriesKey(counter), bucketMs, value: 10 });
  }
  engine.store.ingest(cells);
  console.log(`${engine.store.stats().series} series in the store (${SERIES} duration histograms, ${SERIES} counters); ${RUNS} evaluations per rule`);
  for (const [title, raw] of Object.entries(RULES)) {
    const [rule] = rulesFromConfig([{ name: 'bench', ...(raw as object) }], 'bench', NOW);
    const alerting = new Alerting({
      store: engine.store,
      rules: new MemoryRuleRepository(),
      incidents: new MemoryIncidentRepository(),
      notify: () => undefined,
      configRules: [rule],
      intervalMs: 10_000,
      now: () => NOW,
      node: 'bench',
      generatorUrl: () => 'http://127.0.0.1:8080/',
    });
    alerting.evaluate(NOW); // warm up
    const start = process.hrtime.bigint();
    let groups = 0;
    for (let r = 0; r < RUNS; r++) groups = alerting.evaluate(NOW).groups;
    const ms = Number(process.hrtime.bigint() - start) / 1e6 / RUNS;
    console.log(`${title}: ${ms.toFixed(2)} ms per evaluation (${groups} groups)`);
    await alerting.shutdown();
  }
  await engine.stop();
}

void main();
