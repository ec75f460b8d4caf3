/**
 * /healthz, /readyz and /api/health's status code (issue 14): liveness is
 * 200 whenever the port answers; readiness and /api/health's "unhealthy"
 * (503) follow readiness.ts — stopping, the engine stopped, no probe
 * attached — while partial troubles stay "degraded" (200). No token needed,
 * even with protect_reads.
 */
import path from 'node:path';
import t, { type Test } from 'tap';
import { engineReaders } from '../../src/agent/readers';
import { Engine } from '../../src/pipeline/engine';
import type { EngineOptions } from '../../src/pipeline/engine-options';
import { batchOf, encodeExchange } from '../helpers/records';
import { buildApp, type AppSources } from '../../src/server/app';
import type { HealthSource } from '../../src/server/sources';

const probe = (program: string, attached: boolean) => ({ program, target: `syscalls/${program}`, attached, error: attached ? '' : 'ENOENT' });

async function appWith(t: Test, health: (base: HealthSource) => HealthSource, extra: Partial<AppSources> = {}, engineOptions: Partial<EngineOptions> = {}) {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, ...engineOptions });
  const readers = engineReaders(engine);
  const app = buildApp({ ...readers, health: health(readers.health), scrape: async () => 'm 1\n', startedAtMs: Date.now(), ...extra });
  t.teardown(async () => {
    await app.close();
    await engine.stop();
  });
  return { app, engine };
}

t.test('every probe attached: alive, ready, healthy', async (t) => {
  const { app } = await appWith(t, (h) => ({ ...h, probes: [probe('sys_enter_read', true), probe('sys_exit_read', true)], stopping: () => false }));
  const live = await app.inject('/healthz');
  t.same([live.statusCode, live.json()], [200, { status: 'alive' }]);
  const ready = await app.inject('/readyz');
  t.same([ready.statusCode, ready.json()], [200, { status: 'ready', reason: 'capturing: 2/2 probes attached, engine running' }]);
  const health = await app.inject('/api/health');
  t.equal(health.statusCode, 200);
  t.match(health.json(), { status: 'healthy', problems: [] });
  t.equal((await app.inject({ method: 'HEAD', url: '/readyz' })).statusCode, 200, 'HEAD too');
});

t.test('some probes missing: ready, but degraded (200)', async (t) => {
  const { app } = await appWith(t, (h) => ({ ...h, probes: [probe('sys_enter_read', true), probe('sys_enter_sendfile64', false)] }));
  t.equal((await app.inject('/readyz')).statusCode, 200);
  const health = await app.inject('/api/health');
  t.equal(health.statusCode, 200);
  t.match(health.json(), { status: 'degraded', problems: ['probes not attached: sys_enter_sendfile64'] });
});

t.test('no probe attached: not ready (503 with the reason), unhealthy (503, the same shape)', async (t) => {
  const { app } = await appWith(t, (h) => ({ ...h, probes: [probe('sys_enter_read', false), probe('sys_exit_read', false)] }));
  t.equal((await app.inject('/healthz')).statusCode, 200, 'still alive');
  const ready = await app.inject('/readyz');
  t.same([ready.statusCode, ready.json()], [503, { status: 'not ready', reason: 'no eBPF program attached (0/2): nothing is captured' }]);
  const health = await app.inject('/api/health');
  t.equal(health.statusCode, 503);
  const body = health.json();
  t.match(body, { status: 'unhealthy', worker_threads: 1, probes: { attached: 0, total: 2 } });
  t.same(body.problems, ['no eBPF program attached (0/2): nothing is captured', 'probes not attached: sys_enter_read, sys_exit_read']);
  t.same(Object.keys(body).slice(0, 6), ['status', 'processors', 'aggregators', 'buffer_size', 'buffer_capacity', 'worker_threads'], "the seed's fields first, as before");
});

t.test('stopping, or the engine stopped: 503', async (t) => {
  let stopping = false;
  const { app, engine } = await appWith(t, (h) => ({ ...h, probes: [probe('sys_enter_read', true)], stopping: () => stopping }));
  t.equal((await app.inject('/readyz')).statusCode, 200);
  stopping = true;
  t.same((await app.inject('/readyz')).json(), { status: 'not ready', reason: 'stopping: the agent is shutting down' });
  t.equal((await app.inject('/api/health')).statusCode, 503);
  stopping = false;
  await engine.stop();
  const ready = await app.inject('/readyz');
  t.same([ready.statusCode, ready.json()], [503, { status: 'not ready', reason: 'the analytics engine is stopped' }]);
  t.equal((await app.inject('/api/health')).json().status, 'unhealthy');
  t.equal((await app.inject('/healthz')).statusCode, 200);
});

t.test('every shard worker exited: not ready, unhealthy (503)', async (t) => {
  const exiting = { processorModules: [path.join(__dirname, '..', 'fixtures', 'exiting-processor.js')] };
  const { app, engine } = await appWith(t, (h) => ({ ...h, probes: [probe('sys_enter_read', true)] }), {}, exiting);
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready while the worker runs');
  engine.ingest(batchOf(encodeExchange()), 1);
  const deadline = Date.now() + 10_000;
  while (engine.stats().workersAlive > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(engine.stats().workersAlive, 0, 'the worker exited');
  const ready = await app.inject('/readyz');
  t.same([ready.statusCode, ready.json()], [503, { status: 'not ready', reason: 'every analytics worker exited (0/1): nothing counts the exchanges' }]);
  const health = await app.inject('/api/health');
  t.equal(health.statusCode, 503);
  t.match(health.json(), { status: 'unhealthy' });
  t.ok((health.json().problems as string[]).includes('every analytics worker exited (0/1): nothing counts the exchanges'), 'named among the problems');
});

t.test('with protect_reads and a token: the probes and /api/health need none; the rest does', async (t) => {
  const security = { token: 'a-token-of-sixteen-chars', protectReads: true };
  const { app } = await appWith(t, (h) => ({ ...h, probes: [probe('sys_enter_read', true)] }), { security });
  for (const url of ['/healthz', '/readyz', '/api/health']) t.equal((await app.inject(url)).statusCode, 200, url);
  t.equal((await app.inject('/api/stats')).statusCode, 401);
  t.equal((await app.inject('/metrics')).statusCode, 401);
});

t.test('the probes take no query parameters', async (t) => {
  const { app } = await appWith(t, (h) => h);
  const r = await app.inject('/readyz?verbose=1');
  t.equal(r.statusCode, 400);
  t.equal(r.json().code, 'HT_ERR_BAD_REQUEST');
});
