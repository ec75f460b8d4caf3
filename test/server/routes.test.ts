/**
 * The routes' response schemas serialize what the routes return, all of it:
 * fast-json-stringify drops any property a schema does not list, so every
 * answer here — each JSON route, its refusals, captured strings with control
 * characters, maps of labels — is compared with the object the route handed
 * to the serializer (caught by a preSerialization hook that runs after the
 * app's escaping one).
 */
import t, { type Test } from 'tap';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { engineReaders } from '../../src/agent/readers';
import type { CaptureStats } from '../../src/capture/capture';
import { Engine } from '../../src/pipeline/engine';
import { buildApp, type AppSources } from '../../src/server/app';
import { LiveHub } from '../../src/server/live/hub';
import { DEFAULT_LIVE } from '../../src/config/live-options';
import { batchOf, encodeExchange } from '../helpers/records';

const NOW = 1_800_000_000_000;
const at = (msBefore: number, durationMs: number) => ({ endNs: BigInt(NOW - msBefore) * 1_000_000n, startNs: BigInt(NOW - msBefore - durationMs) * 1_000_000n });

/** An app whose every JSON answer is kept beside what the route returned. */
function watched(sources: AppSources): { app: FastifyInstance; routes: RouteOptions[]; check(t: Test, url: string | { method: string; url: string; headers?: Record<string, string> }): Promise<number> } {
  const app = buildApp(sources);
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (r) => void routes.push(r));
  let last: unknown;
  app.addHook('preSerialization', async (_req, _reply, payload) => {
    last = payload;
    return payload;
  });
  return {
    app,
    routes,
    async check(t, req) {
      last = undefined;
      const r = await app.inject(req);
      const name = typeof req === 'string' ? req : `${req.method} ${req.url}`;
      t.not(last, undefined, `${name}: a JSON answer`);
      t.strictSame(JSON.parse(r.body), JSON.parse(JSON.stringify(last)), `${name} (${r.statusCode}): every property the route returned, as it returned it`);
      return r.statusCode;
    },
  };
}

async function engineWithTraffic(t: Test): Promise<Engine> {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000 });
  t.teardown(() => engine.stop());
  const records = [
    ...Array.from({ length: 6 }, (_, i) => encodeExchange({ comm: 'api', localPort: 8080, head: `GET /users/${i} HTTP/1.1\r\n\r\n`, status: i < 2 ? 500 : 200, ...at(1000 * (i + 1), 10 * (i + 1)) })),
    encodeExchange({ comm: 'api', localPort: 8080, head: 'POST /orders HTTP/1.1\r\n\r\n', status: 0, flags: 1 | 2, ...at(3000, 100) }),
    encodeExchange({ comm: 'ev\x1bil\x07', head: 'GET /p\x1b[2J\x9b31m\x00x HTTP/1.1\r\n\r\n', ...at(1000, 5) }),
    encodeExchange({ comm: 'c1\x9b', direction: 'client', peerPort: 9000, head: 'GET /q\x7f HTTP/1.1\r\n\r\n', status: 404, ...at(2000, 5) }),
  ];
  engine.ingest(batchOf(...records), records.length);
  await engine.sync();
  return engine;
}

t.test('every JSON answer is what the route returned: nothing dropped, nothing changed', async (t) => {
  const engine = await engineWithTraffic(t);
  const hub = new LiveHub(engine.store, DEFAULT_LIVE);
  t.teardown(() => hub.close());
  const readers = engineReaders(engine);
  const capture = { records: 9, batches: 1, bytes: 1, stalls: 0, stalledMs: 0, kernel: {}, lost: { total: 3, byReason: { ring_full: 2, map_full: 1 } } } as unknown as CaptureStats;
  const attach = [
    { program: 'sys_enter_read', target: 'syscalls/sys_enter_read', attached: true, error: '' },
    { program: 'sys_enter_sendfile64', target: 'syscalls/sys_enter_sendfile64', attached: false, error: 'ENOENT' },
  ];
  const token = 'a-token-of-32-characters-or-so!!';
  const { app, check } = watched({
    ...readers,
    health: { ...readers.health, captureStats: () => capture, probes: attach },
    scrape: async () => 'up 1\n',
    startedAtMs: Date.now() - 1000,
    live: hub,
    security: { token, protectReads: true },
  });
  t.teardown(() => app.close());
  const auth = { authorization: `Bearer ${token}` };
  const get = (url: string) => ({ method: 'GET', url, headers: auth });
  const answers: [string | { method: string; url: string; headers?: Record<string, string> }, number][] = [
    [get('/api/health'), 200],
    [get('/api/processors'), 200],
    [get('/api/stats'), 200],
    [get('/api/alerts'), 200],
    [get('/'), 200],
    [get('/api/metrics?window=1m'), 200],
    [get('/api/metrics?window=5m&status_class=5xx&side=server&service=api:8080&method=GET&route=/users/{id}&limit=1'), 200],
    [get(`/api/metrics?window=1m&service=${encodeURIComponent('c1\x9b')}`), 200],
    [get('/api/metrics?window=1m&service=nobody'), 200],
    [get('/api/metrics?window=1m&namespace='), 200],
    [get('/api/metrics?window=1m&namespace=shop'), 200],
    [get('/api/series?window=15m&namespace='), 200],
    [get('/api/metrics?namespace=Shop'), 400],
    [get('/api/series?window=15m'), 200],
    [get('/api/series?window=1d&side=client'), 200],
    [get('/api/metrics?window=2d'), 400],
    [get('/api/metrics?limit=0'), 400],
    [get('/api/series?colour=red'), 400],
    ['/api/stats', 401],
    [{ method: 'GET', url: '/api/metrics', headers: { authorization: 'Bearer wrong' } }, 401],
    [{ method: 'POST', url: '/api/alerts', headers: { ...auth, origin: 'https://evil.example' } }, 403],
    [get('/api/nothing'), 404],
    [{ method: 'DELETE', url: '/api/stats', headers: auth }, 405],
  ];
  for (const [req, status] of answers) t.equal(await check(t, req), status, typeof req === 'string' ? req : req.url);
  const stats = (await app.inject(get('/api/stats'))).json();
  t.same(stats.capture.lost.byReason, { ring_full: 2, map_full: 1 }, 'maps keep every key');
  t.ok(stats.websocket && 'maxEvaluationMs' in stats.websocket, 'the hub counters, floats included');
});

t.test('a route without a response schema (a plugin added later) is escaped all the same', async (t) => {
  const engine = await engineWithTraffic(t);
  const app = buildApp({ ...engineReaders(engine), scrape: async () => '', startedAtMs: Date.now() });
  t.teardown(() => app.close());
  app.register(async (child) => {
    child.get('/api/echo', async () => ({ route: '/p\x1b[2J\x9b', rows: [{ v: NaN }] }));
  });
  const r = await app.inject('/api/echo');
  t.notMatch(r.body, /[\x00-\x1f\x7f-\x9f]|\\u00[01]/);
  t.strictSame(r.json(), { route: '/p\\x1b[2J\\x9b', rows: [{ v: null }] });
});

t.test('each route of the port has a query and a response schema (200 and the error body)', async (t) => {
  const engine = await engineWithTraffic(t);
  const { app, routes } = watched({ ...engineReaders(engine), scrape: async () => '', startedAtMs: Date.now() });
  t.teardown(() => app.close());
  await app.ready();
  const gets = routes.filter((r) => r.method === 'GET');
  t.same(gets.map((r) => r.url).sort(), ['/', '/api/alerts', '/api/alerts/:id', '/api/health', '/api/incidents', '/api/incidents/:id', '/api/metrics', '/api/processors', '/api/series', '/api/stats', '/healthz', '/metrics', '/readyz']);
  for (const r of gets) {
    const response = (r.schema?.response ?? {}) as Record<string, unknown>;
    t.ok(response[200] && response['4xx'] && response['5xx'], `${r.url}: 200, 4xx and 5xx bodies`);
    if (r.url !== '/') t.ok(r.schema?.querystring, `${r.url}: its query parameters`);
  }
});
