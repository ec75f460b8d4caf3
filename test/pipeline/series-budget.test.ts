/**
 * The cardinality budget end to end (shards, then the store), read the way
 * /api/metrics reads it: many routes must not hide a service's errors, many
 * fake process names must not hide a new service's traffic, and idle series
 * give their budget back. Totals are exact with 1, 2 or 4 workers.
 */
import t from 'tap';
import { OVERFLOW } from '../../src/analytics/series-budget';
import type { HistogramSummary } from '../../src/analytics/store';
import { Engine } from '../../src/pipeline/engine';
import { apiMetrics, type RedRow } from '../../src/server/api-metrics';
import { batchOf, encodeExchange } from '../helpers/records';

const T0 = 1_800_000_000_000;
const WINDOW_MS = 60_000;

/** Letters only: not identifiers, so route templating keeps them distinct. */
const word = (i: number): string => i.toString(26).replace(/./g, (c) => String.fromCharCode(97 + parseInt(c, 26)));

interface Exchange {
  comm: string;
  port: number;
  path: string;
  status: number;
}

async function feed(engine: Engine, exchanges: Exchange[], endMs: number): Promise<void> {
  const endNs = BigInt(endMs) * 1_000_000n;
  for (let i = 0; i < exchanges.length; i += 100) {
    const records = exchanges.slice(i, i + 100).map((e) => encodeExchange({ comm: e.comm, localPort: e.port, status: e.status, head: `GET ${e.path} HTTP/1.1\r\n\r\n`, startNs: endNs - 1_000_000n, endNs }));
    await engine.enqueue(batchOf(...records), records.length);
  }
  await engine.sync();
}

/** A row of /api/metrics: RED plus the labels it is grouped by. */
type Row = RedRow & { service: string; side: string; method: string; route: string };

function metrics(engine: Engine, service?: string) {
  const m = apiMetrics(engine.store, { window: '1m', limit: 10_000, ...(service ? { service } : {}) }, WINDOW_MS);
  return { ...m, services: m.services as Row[], routes: m.routes as Row[] };
}
const byLabel = (engine: Engine, metric: string, label: string, match = {}): Record<string, number> =>
  Object.fromEntries(engine.store.window({ metric, by: [label], match }, WINDOW_MS).map((r) => [r.labels[label], (r.summary as HistogramSummary).count ?? r.summary.value]));

for (const workerThreads of [1, 2, 4]) {
  t.test(`1 500 distinct paths, then 50 HTTP 500s: every error counted under its service and status (${workerThreads} workers)`, async (t) => {
    const engine = await Engine.start({ workerThreads, clockOffsetMs: 0, now: () => T0 + 5_000, publishIntervalMs: 60_000 });
    t.teardown(() => engine.stop());
    const ok = Array.from({ length: 1500 }, (_, i): Exchange => ({ comm: 'api', port: 8080, path: `/p/${word(i)}`, status: 200 }));
    const failing = Array.from({ length: 50 }, (_, i): Exchange => ({ comm: 'api', port: 8080, path: `/fail/${word(i)}`, status: 500 }));
    await feed(engine, [...ok, ...failing], T0);

    for (const m of [metrics(engine, 'api:8080'), metrics(engine)]) {
      t.same([m.totals.requests, m.totals.errors, m.totals.error_rate], [1550, 50, 50 / 1550]);
      t.same(m.status_classes, { '2xx': 1500, '5xx': 50 }, 'status classes exact; no "_xx"');
      t.same(m.services.map((s) => [s.service, s.requests, s.errors]), [['api:8080', 1550, 50]]);
      t.equal(m.routes.reduce((n, r) => n + r.errors, 0), 50);
    }
    const routes = metrics(engine).routes;
    t.ok(routes.some((r) => r.route === OVERFLOW && r.method === 'GET'), 'the folded route is explicit, its method kept');
    if (workerThreads === 1) t.same(routes.filter((r) => r.errors > 0).map((r) => [r.route, r.errors]), [[OVERFLOW, 50]], 'the 500s came after the budget was spent');
    t.same(byLabel(engine, 'http_request_duration_seconds', 'status_code'), { 200: 1500, 500: 50 }, 'route folded first: status codes intact');
    t.same(byLabel(engine, 'http_responses_total', 'status_code'), { 200: 1500, 500: 50 });
    t.same([byLabel(engine, 'http_requests_total', 'service'), byLabel(engine, 'http_errors_total', 'service')], [{ 'api:8080': 1550 }, { 'api:8080': 50 }], 'the counter families agree');
    const budget = engine.store.stats().budget;
    t.ok(budget.folded.route > 0 && budget.folded.service === 0 && budget.folded.global === 0, `folded by reason: ${JSON.stringify(budget.folded)}`);
  });

  t.test(`5 000 fake process names, then a new service's 100 requests with 10 HTTP 500s: counted, totals exact (${workerThreads} workers)`, async (t) => {
    let now = T0 + 5_000;
    const engine = await Engine.start({ workerThreads, clockOffsetMs: 0, now: () => now, publishIntervalMs: 60_000 });
    t.teardown(() => engine.stop());
    const fakes = Array.from({ length: 5000 }, (_, i): Exchange => ({ comm: `fake${i}`, port: 8080, path: '/', status: 200 }));
    const legit = Array.from({ length: 100 }, (_, i): Exchange => ({ comm: 'legit', port: 8081, path: i < 10 ? '/boom' : '/ok', status: i < 10 ? 500 : 200 }));
    await feed(engine, [...fakes, ...legit], T0);

    const m = metrics(engine);
    t.same([m.totals.requests, m.totals.errors, m.totals.error_rate], [5100, 10, 10 / 5100]);
    t.same(m.status_classes, { '2xx': 5090, '5xx': 10 });
    t.equal(m.services.reduce((n, s) => n + s.requests, 0), 5100, 'every request under some service');
    const overflow = m.services.find((s) => s.service === OVERFLOW)!;
    t.equal(overflow.errors, 10, "the new service's 500s are in the OVERFLOW service");
    t.notOk(m.services.some((s) => s.service === 'legit:8081'), 'past the services cap: no name of its own');
    t.same(byLabel(engine, 'http_requests_total', 'route', { service: OVERFLOW, server_port: '8081' }), { '/boom': 10, '/ok': 90 }, 'within the OVERFLOW service, its port and routes are kept');
    const budget = engine.store.stats().budget;
    t.equal(budget.services, 500, 'the services cap holds');
    t.ok(budget.folded.service > 0, `folded by reason: ${JSON.stringify(budget.folded)}`);

    // The fake names go quiet; after the idle time they give their budget back.
    now = T0 + 15 * 60_000 + 20_000;
    engine.store.expire();
    t.equal(engine.store.stats().budget.services, 0, 'idle services released');
    await feed(engine, legit, now - 1_000);
    const later = metrics(engine);
    t.same(later.services.map((s) => [s.service, s.requests, s.errors]), [['legit:8081', 100, 10]], 'the new service has its own name again');
    t.same([later.totals.requests, later.totals.errors], [100, 10]);
  });
}
