/**
 * A store with N series for the exporter benches: three quarters
 * http_requests_total counters, a quarter duration histograms (10 exchanges
 * each, in the default buckets), over 20 services and one route per series.
 */
import { Distribution } from '../src/analytics/distribution';
import { DEFAULT_DURATION_BUCKETS_SECONDS, seriesKey } from '../src/analytics/families';
import type { DeltaCell } from '../src/analytics/cells';
import { NO_HTTP_IDENTITY } from '../test/helpers/identity-labels';
import { Engine } from '../src/pipeline/engine';

export async function engineWithSeries(series: number, nowMs: number): Promise<Engine> {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => nowMs, seriesLimits: { perService: 1e6, global: 1e6 } });
  const cells: DeltaCell[] = [];
  for (let i = 0; i < series; i++) {
    const service = `svc${i % 20}:80`;
    if (i % 4 === 3) {
      const d = new Distribution();
      for (let k = 0; k < 10; k++) d.record(0.001 * (k + 1));
      const labels = [service, 'server', '80', 'GET', `/route/${i}`, '200', '', ...NO_HTTP_IDENTITY];
      cells.push({ family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs: nowMs - 10_000, value: 10, dist: d.toData(), bounds: [0, 0, 0, 0, 0, 0, 10, ...new Array(DEFAULT_DURATION_BUCKETS_SECONDS.length - 6).fill(0)] });
    } else {
      const labels = [service, 'server', '80', 'GET', `/route/${i}`, ...NO_HTTP_IDENTITY];
      cells.push({ family: 'http_requests_total', labels, key: seriesKey(labels), bucketMs: nowMs - 10_000, value: 10 });
    }
  }
  engine.store.ingest(cells);
  return engine;
}
