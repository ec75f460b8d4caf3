/**
 * Namespaces on /api/metrics, /api/series and the WebSocket subscription: a
 * store fed with duration cells of two namespaces that both run a service
 * "api" (a workload name, as in Kubernetes), and one process outside
 * Kubernetes. Exact rows, the filter and its echo, and a bad namespace named.
 */
import t, { type Test } from 'tap';
import { engineReaders } from '../../src/agent/readers';
import { Engine } from '../../src/pipeline/engine';
import { buildApp } from '../../src/server/app';
import { connect, startLive, NOW } from '../helpers/live';
import { namespacedCells } from './namespaced-cells';

/** shop/api: 4 exchanges (1 a 500) on /cart; billing/api: 2 on /invoices; worker:9000 outside Kubernetes: 1. */
const CELLS = () => namespacedCells(NOW);

async function setup(t: Test) {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000 });
  engine.store.ingest(CELLS());
  const app = buildApp({ ...engineReaders(engine), scrape: async () => '', startedAtMs: Date.now() });
  t.teardown(async () => {
    await app.close();
    await engine.stop();
  });
  return app;
}

type Row = { service: string; side: string; namespace: string; method?: string; route?: string; requests: number; errors: number };
const brief = (rows: Row[]) => rows.map((r) => [r.service, r.side, r.namespace, ...(r.route === undefined ? [] : [r.method, r.route]), r.requests, r.errors]);

t.test('GET /api/metrics: a row per service, side and namespace; two namespaces\' "api" are two rows', async (t) => {
  const app = await setup(t);
  const r = await app.inject('/api/metrics?window=1m');
  t.equal(r.statusCode, 200);
  const m = r.json();
  t.strictSame(m.filters, {});
  t.match(m.totals, { requests: 7, errors: 1 });
  t.strictSame(brief(m.services), [
    ['api', 'server', 'shop', 4, 1],
    ['api', 'server', 'billing', 2, 0],
    ['worker:9000', 'server', '', 1, 0],
  ]);
  t.strictSame(brief(m.routes), [
    ['api', 'server', 'shop', 'GET', '/cart', 4, 1],
    ['api', 'server', 'billing', 'GET', '/invoices', 2, 0],
    ['worker:9000', 'server', '', 'GET', '/jobs', 1, 0],
  ]);
  t.strictSame(Object.keys(m.services[0]), ['service', 'side', 'namespace', 'requests', 'requests_per_second', 'errors', 'error_rate', 'latency_seconds'], 'the labels, then RED; no k8s_namespace_name besides namespace');
  // The serializer puts the properties every row has first.
  t.strictSame(Object.keys(m.routes[0]), ['service', 'side', 'namespace', 'requests', 'requests_per_second', 'errors', 'error_rate', 'latency_seconds', 'method', 'route']);
  t.strictSame(m.services[1], {
    service: 'api',
    side: 'server',
    namespace: 'billing',
    requests: 2,
    requests_per_second: 2 / 20, // the store's data began 20 s ago: the rate covers those
    errors: 0,
    error_rate: 0,
    latency_seconds: { mean: 0.0055, p50: 0.005, p90: 0.005, p95: 0.005, p99: 0.005, max: 0.006 },
  });
});

t.test('GET /api/metrics?namespace=: only that namespace, echoed in filters; "" is outside Kubernetes', async (t) => {
  const app = await setup(t);
  const get = async (query: string) => {
    const r = await app.inject(`/api/metrics?window=1m&${query}`);
    t.equal(r.statusCode, 200, query);
    return r.json();
  };
  const shop = await get('namespace=shop');
  t.strictSame(shop.filters, { k8s_namespace_name: 'shop' });
  t.match(shop.totals, { requests: 4, errors: 1, error_rate: 0.25 });
  t.strictSame(shop.status_classes, { '2xx': 3, '5xx': 1 });
  t.strictSame(brief(shop.services), [['api', 'server', 'shop', 4, 1]]);
  t.strictSame(brief(shop.routes), [['api', 'server', 'shop', 'GET', '/cart', 4, 1]]);

  const billingApi = await get('namespace=billing&service=api');
  t.strictSame(billingApi.filters, { service: 'api', k8s_namespace_name: 'billing' });
  t.strictSame(brief(billingApi.services), [['api', 'server', 'billing', 2, 0]]);

  const api = await get('service=api');
  t.strictSame(brief(api.services), [['api', 'server', 'shop', 4, 1], ['api', 'server', 'billing', 2, 0]], 'service alone: every namespace\'s');
  t.equal(api.totals.requests, 6);

  const outside = await get('namespace=');
  t.strictSame(outside.filters, { k8s_namespace_name: '' });
  t.strictSame(brief(outside.services), [['worker:9000', 'server', '', 1, 0]]);

  const none = await get('namespace=nobody');
  t.strictSame([none.totals.requests, none.services, none.routes, none.status_classes], [0, [], [], {}], 'no match: zeros, not an error');
});

t.test('GET /api/series?namespace=: the points of that namespace only', async (t) => {
  const app = await setup(t);
  const count = async (query: string) => {
    const r = await app.inject(`/api/series?window=15m${query}`);
    t.equal(r.statusCode, 200, query);
    const s = r.json();
    return s.points.reduce((sum: number, p: { requests_per_second: number }) => sum + p.requests_per_second * s.step_seconds, 0);
  };
  t.equal(await count(''), 7);
  t.equal(await count('&namespace=shop'), 4);
  t.equal(await count('&namespace=billing&service=api'), 2);
  t.equal(await count('&namespace='), 1);
  t.equal(await count('&namespace=nobody'), 0);
});

t.test('a bad namespace: 400 naming it, on both routes', async (t) => {
  const app = await setup(t);
  const cases: [string, string][] = [
    ['namespace=Shop', 'namespace: must match pattern "^[a-z0-9-]*$"'],
    ['namespace=shop%0a', 'namespace: must match pattern "^[a-z0-9-]*$"'],
    ['namespace=a.b', 'namespace: must match pattern "^[a-z0-9-]*$"'],
    [`namespace=${'a'.repeat(254)}`, 'namespace: must NOT have more than 253 characters'],
  ];
  for (const path of ['/api/metrics', '/api/series']) {
    for (const [query, message] of cases) {
      const r = await app.inject(`${path}?${query}`);
      t.equal(r.statusCode, 400, `${path}?${query.slice(0, 30)}`);
      t.strictSame(r.json(), { code: 'HT_ERR_BAD_REQUEST', error: 'bad request', field: 'namespace', message }, `${path}?${query.slice(0, 30)}`);
    }
    t.equal((await app.inject(`${path}?namespace=${'a'.repeat(253)}`)).statusCode, 200, `${path}: 253 characters are fine`);
  }
});

t.test('WebSocket: subscribe with a namespace; identical queries share one evaluation; a bad one is refused', async (t) => {
  const live = await startLive(t, {}, Buffer.alloc(0));
  live.engine.store.ingest(CELLS());
  const c = await connect(`${live.url}/ws/ns-test`);
  t.teardown(() => c.ws.close());
  c.send({ type: 'subscribe', query_id: 'shop', window: '1m', namespace: 'shop' });
  await c.next('subscribed');
  const update = (await c.next('realtime_update', 3000, (m) => m.query_id === 'shop')).data as { filters: object; totals: { requests: number }; services: Row[] };
  t.strictSame(update.filters, { k8s_namespace_name: 'shop' });
  t.equal(update.totals.requests, 4);
  t.strictSame(brief(update.services), [['api', 'server', 'shop', 4, 1]]);

  c.send({ type: 'subscribe', query_id: 'billing', window: '60s', namespace: 'billing', service: 'api' });
  const billing = (await c.next('realtime_update', 3000, (m) => m.query_id === 'billing')).data as { services: Row[] };
  t.strictSame(brief(billing.services), [['api', 'server', 'billing', 2, 0]]);
  c.send({ type: 'subscribe', query_id: 'shop-again', window: '60s', namespace: 'shop' });
  await c.next('realtime_update', 3000, (m) => m.query_id === 'shop-again');
  t.equal(live.hub.stats().queries, 2, 'the same window and namespace: one query');

  for (const namespace of ['Shop', 'a'.repeat(254), 7]) {
    c.send({ type: 'subscribe', query_id: 'bad', namespace });
    const e = await c.next('error');
    t.equal(e.message, 'namespace: a Kubernetes namespace is needed (at most 253 lower-case letters, digits and "-"; "" outside Kubernetes)', String(namespace).slice(0, 10));
  }
});
