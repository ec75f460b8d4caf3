/**
 * The port logs through the agent's logger (Fastify's loggerInstance): no
 * line per request at info (scrapes and dashboard polls would drown the
 * log), one per request at debug, and a 500 (a bug) at error with its stack.
 */
import t, { type Test } from 'tap';
import { engineReaders } from '../../src/agent/readers';
import { createLogger } from '../../src/log/logger';
import type { LogLevel } from '../../src/log/settings';
import { Engine } from '../../src/pipeline/engine';
import { buildApp } from '../../src/server/app';

async function appLogging(t: Test, level: LogLevel) {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0 });
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level, format: 'json' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const app = buildApp({ ...engineReaders(engine), scrape: async () => 'm 1\n', startedAtMs: Date.now(), log });
  app.get('/boom', async () => {
    throw new Error('kaput');
  });
  t.teardown(async () => {
    await app.close();
    await engine.stop();
  });
  return { app, lines };
}

t.test('info: requests leave no line; a 500 leaves one error line with the stack', async (t) => {
  const { app, lines } = await appLogging(t, 'info');
  for (const url of ['/healthz', '/readyz', '/api/health', '/metrics', '/nope']) await app.inject(url);
  t.same(lines, [], 'nothing for answered requests, 404 included');
  const r = await app.inject('/boom');
  t.equal(r.statusCode, 500);
  t.equal(lines.length, 1);
  t.match(lines[0], { level: 'error', method: 'GET', url: '/boom', msg: 'GET /boom: answered 500: kaput', err: { message: 'kaput', stack: /Error: kaput\n/ } });
});

t.test('debug: one line per request, with the status', async (t) => {
  const { app, lines } = await appLogging(t, 'debug');
  await app.inject('/readyz');
  await app.inject('/nope');
  t.same(
    lines.map((l) => [l.level, l.msg, l.status]),
    [
      ['debug', 'GET /readyz 200', 200],
      ['debug', 'GET /nope 404', 404],
    ],
  );
});
