/**
 * Who may write through the port (src/server/api-auth.ts, origin-policy.ts),
 * with peers simulated by inject()'s remoteAddress and browsers by Origin and
 * Host headers, on the alert routes with a real Alerting (SQLite on a temp
 * directory): a write that gets through creates a rule (201), one that does
 * not is refused before the route (403 HT_ERR_FORBIDDEN, 401
 * HT_ERR_UNAUTHORIZED) and creates nothing.
 *
 *   no token:   loopback writes; any other peer 403 (naming it and HTTP_TRACER_API_TOKEN); reads open
 *   token:      every write needs it (401 without); reads open unless protectReads
 *   any:        a write from a browser page of another origin 403 (CSRF, DNS rebinding)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { engineReaders } from '../../src/agent/readers';
import { Alerting } from '../../src/alerting/alerting';
import { Engine } from '../../src/pipeline/engine';
import type { ApiSecurity } from '../../src/server/api-auth';
import { buildApp } from '../../src/server/app';
import { closeDatabase, openDatabase } from '../../src/storage/database';
import { SqliteIncidentRepository } from '../../src/storage/incident-repository';
import { SqliteRuleRepository } from '../../src/storage/rule-repository';

const TOKEN = 'a-token-of-32-characters-or-so!!';
const RULE = { name: 'errors', metric_name: 'http_errors_total', condition: '>', threshold: 1 };
const FOREIGN = '10.0.0.7';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'write-guard-'));
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
let shared: Promise<Engine> | undefined;
t.teardown(async () => (await shared)?.stop());

let dirs = 0;
async function setup(t: Test, security?: ApiSecurity): Promise<{ app: FastifyInstance; alerting: Alerting }> {
  shared ??= Engine.start({ workerThreads: 1, clockOffsetMs: 0, publishIntervalMs: 60_000 });
  const engine = await shared;
  const db = openDatabase(path.join(root, `d${dirs++}`), 'test');
  const alerting = new Alerting({
    store: engine.store,
    rules: new SqliteRuleRepository(db),
    incidents: new SqliteIncidentRepository(db),
    notify: () => {},
    configRules: [],
    intervalMs: 10_000,
    now: Date.now,
    node: 'node-1',
    generatorUrl: (id) => `http://node-1:8080/#alert=${id}`,
  });
  const app = buildApp({ ...engineReaders(engine), scrape: async () => '', startedAtMs: Date.now(), alerting, security });
  t.teardown(async () => {
    await app.close();
    await alerting.shutdown();
    closeDatabase(db);
  });
  return { app, alerting };
}

interface Peer {
  from?: string;
  origin?: string;
  host?: string;
  token?: string;
}
function request(method: string, url: string, peer: Peer, payload?: object): InjectOptions {
  const headers: Record<string, string> = {};
  if (peer.origin !== undefined) headers.origin = peer.origin;
  if (peer.host !== undefined) headers.host = peer.host;
  if (peer.token !== undefined) headers.authorization = `Bearer ${peer.token}`;
  return { method: method as InjectOptions['method'], url, headers, remoteAddress: peer.from ?? '127.0.0.1', ...(payload ? { payload } : {}) };
}
const createRule = (peer: Peer, url = '/api/alerts') => request('POST', url, peer, RULE);

async function outcome(app: FastifyInstance, req: InjectOptions): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  const r = await app.inject(req);
  return { status: r.statusCode, body: r.body === '' ? undefined : r.json(), headers: r.headers };
}
const forbidden = (message: string) => ({ status: 403, body: { code: 'HT_ERR_FORBIDDEN', error: 'forbidden', message } });
const notLoopback = (address: string) => forbidden(`writes from ${address} need an API token on the agent (HTTP_TRACER_API_TOKEN); without one, only loopback may write`);
const badOrigin = (origin: string) => forbidden(`origin ${origin} may not write here (same origin, or one of allowed_origins)`);

t.test('no token: loopback peers write, any other peer is refused 403 naming it; reads stay open', async (t) => {
  const { app, alerting } = await setup(t);
  for (const from of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
    const r = await outcome(app, createRule({ from }));
    t.equal(r.status, 201, `${from}: reaches the route (201)`);
    t.match(r.body, { id: /^alert_/, name: 'errors' });
  }
  t.equal(alerting.rules().length, 4, 'four rules created');
  const [rule] = alerting.rules();

  for (const from of [FOREIGN, `::ffff:${FOREIGN}`, '192.168.1.20', 'fe80::1', '::', '0.0.0.0', '128.0.0.1']) {
    t.strictSame(await outcome(app, createRule({ from })).then(({ status, body }) => ({ status, body })), notLoopback(from), `${from}: 403 naming it and HTTP_TRACER_API_TOKEN`);
  }
  // Every write method, every write route.
  for (const req of [
    request('PUT', `/api/alerts/${rule.rule.id}`, { from: FOREIGN }, RULE),
    request('DELETE', `/api/alerts/${rule.rule.id}`, { from: FOREIGN }),
    request('POST', `/api/alerts/${rule.rule.id}/disable`, { from: FOREIGN }),
    request('POST', '/api/incidents/inc_0000000000000000/acknowledge', { from: FOREIGN }, {}),
    request('POST', '/api/incidents/inc_0000000000000000/silence', { from: FOREIGN }, { duration: '1h' }),
    request('PATCH', '/api/alerts', { from: FOREIGN }, RULE),
  ]) {
    t.strictSame(await outcome(app, req).then(({ status, body }) => ({ status, body })), notLoopback(FOREIGN), `${req.method} ${req.url}: 403`);
  }
  const spoofed = await outcome(app, { ...createRule({ from: FOREIGN }), headers: { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1' } });
  t.equal(spoofed.status, 403, 'X-Forwarded-For: 127.0.0.1 does not make a peer loopback');
  t.equal(alerting.rules().length, 4, 'nothing refused was created, changed or deleted');
  t.equal(alerting.rule(rule.rule.id).rule.enabled, true);

  for (const url of ['/api/alerts', `/api/alerts/${rule.rule.id}`, '/api/incidents', '/api/stats', '/api/health', '/metrics']) {
    t.equal((await app.inject(request('GET', url, { from: FOREIGN }))).statusCode, 200, `GET ${url} from ${FOREIGN}: 200`);
  }
  t.equal((await outcome(app, request('GET', '/api/alerts', { from: FOREIGN }))).body.alerts.length, 4, 'reads the rules');
});

t.test('origins on writes: none, the agent’s own (address or localhost) and listed ones pass; others 403', async (t) => {
  for (const token of [undefined, TOKEN]) {
    const { app, alerting } = await setup(t, { token, protectReads: false, allowedOrigins: ['https://Dash.Example.com/', 'http://agent.example:9000'] });
    const as = token ? ' (token)' : ' (no token)';
    const write = (origin: string | undefined, host: string | undefined) => outcome(app, createRule({ origin, host, token }));
    const allowed: [string | undefined, string | undefined, string][] = [
      [undefined, '127.0.0.1:8080', 'no Origin (curl, scripts)'],
      ['http://127.0.0.1:8080', '127.0.0.1:8080', 'same origin, an IPv4 address'],
      ['http://localhost:8080', 'localhost:8080', 'same origin, localhost'],
      ['http://[::1]:8080', '[::1]:8080', 'same origin, an IPv6 address'],
      ['http://127.0.0.1', '127.0.0.1:80', 'same origin, the default port written or not'],
      ['https://dash.example.com', 'agent.internal:8080', 'listed (as URL.origin spells it)'],
      ['http://agent.example:9000', 'agent.example:9000', 'a DNS name, listed'],
    ];
    for (const [origin, host, name] of allowed) t.equal((await write(origin, host)).status, 201, `${name}${as}: 201`);
    const refused: [string, string | undefined, string][] = [
      ['https://evil.example', '127.0.0.1:8080', 'another site'],
      ['null', '127.0.0.1:8080', '"null" (sandboxed frame, file://)'],
      ['http://agent.example:8080', 'agent.example:8080', 'a DNS name same-origin, not listed (DNS rebinding)'],
      ['http://127.0.0.1:9999', '127.0.0.1:8080', 'another port'],
      ['http://localhost:8080', '127.0.0.1:8080', 'localhost for an address'],
      ['http://127.0.0.1:8080', undefined, 'no Host'],
      ['https://dash.example.com.evil.example', '127.0.0.1:8080', 'a listed origin as a prefix'],
      ['not a url', '127.0.0.1:8080', 'unparsable'],
    ];
    for (const [origin, host, name] of refused) {
      const r = await write(origin, host);
      t.strictSame({ status: r.status, body: r.body }, badOrigin(origin), `${name}${as}: 403 naming the origin`);
    }
    t.equal(alerting.rules().length, allowed.length, `${as}: only the allowed writes created rules`);
    const id = alerting.rules()[0].rule.id;
    const del = await outcome(app, { ...request('DELETE', `/api/alerts/${id}`, { origin: 'https://evil.example', token }) });
    t.strictSame({ status: del.status, body: del.body }, badOrigin('https://evil.example'), `DELETE from another site${as}: 403`);
    t.equal((await app.inject(request('GET', '/api/alerts', { origin: 'https://evil.example', token }))).statusCode, 200, `a read from another site${as}: not a write, 200`);
  }
});

t.test('with a token: writes need it from anywhere (401, not 403); reads open unless protectReads', async (t) => {
  const { app, alerting } = await setup(t, { token: TOKEN, protectReads: false });
  t.equal((await outcome(app, createRule({ from: FOREIGN, token: TOKEN }))).status, 201, `${FOREIGN} with the token: 201`);
  t.equal((await outcome(app, createRule({ from: `::ffff:${FOREIGN}`, token: TOKEN }))).status, 201, `::ffff:${FOREIGN} with the token: 201`);
  const missing = await outcome(app, createRule({ from: FOREIGN }));
  t.strictSame(
    { status: missing.status, body: missing.body },
    { status: 401, body: { code: 'HT_ERR_UNAUTHORIZED', error: 'unauthorized', message: 'this path needs the API token: Authorization: Bearer <token>' } },
    `${FOREIGN} without the token: 401`,
  );
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="http-tracer"');
  const wrong = await outcome(app, createRule({ from: FOREIGN, token: `${TOKEN}x` }));
  t.strictSame(
    { status: wrong.status, body: wrong.body },
    { status: 401, body: { code: 'HT_ERR_UNAUTHORIZED', error: 'unauthorized', message: 'the bearer token is not the configured one' } },
    'a wrong token: 401',
  );
  t.equal(wrong.headers['www-authenticate'], 'Bearer realm="http-tracer", error="invalid_token"');
  t.equal((await outcome(app, createRule({ from: '127.0.0.1' }))).status, 401, 'loopback without the token: 401 too');
  t.equal((await outcome(app, { ...createRule({ from: FOREIGN }), headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } })).status, 401, 'Basic, not Bearer: 401');
  t.equal(alerting.rules().length, 2, 'only the two with the token created rules');
  t.equal((await app.inject(request('GET', '/api/alerts', { from: FOREIGN }))).statusCode, 200, 'a read without the token: 200');

  const guarded = await setup(t, { token: TOKEN, protectReads: true });
  const read = await outcome(guarded.app, request('GET', '/api/alerts', { from: FOREIGN }));
  t.strictSame({ status: read.status, body: read.body }, { status: 401, body: { code: 'HT_ERR_UNAUTHORIZED', error: 'unauthorized', message: 'this path needs the API token: Authorization: Bearer <token>' } }, 'protectReads: a read without it 401');
  t.equal((await guarded.app.inject(request('GET', '/api/incidents', { from: FOREIGN }))).statusCode, 401);
  t.equal((await guarded.app.inject(request('GET', '/api/alerts', { from: FOREIGN, token: TOKEN }))).statusCode, 200, 'with it: 200');
  t.equal((await guarded.app.inject(request('GET', '/api/health', { from: FOREIGN }))).statusCode, 200, '/api/health stays open');
});

t.test('a percent-encoded path is the path the router matches: guarded all the same', async (t) => {
  const { app, alerting } = await setup(t);
  for (const url of ['/%61pi/alerts', '/%61%70%69/alerts', '/api/%61lerts', '/api/alerts?x=%2F']) {
    t.strictSame(await outcome(app, createRule({ from: FOREIGN }, url)).then(({ status, body }) => ({ status, body })), notLoopback(FOREIGN), `POST ${url} from ${FOREIGN}: 403`);
  }
  const rule = (await outcome(app, createRule({}))).body;
  const del = await outcome(app, request('DELETE', `/%61pi/alerts/${rule.id}`, { from: FOREIGN }));
  t.strictSame({ status: del.status, body: del.body }, notLoopback(FOREIGN), 'DELETE /%61pi/alerts/{id}: 403');
  t.equal((await outcome(app, createRule({}, '/%61pi/alerts'))).status, 201, 'from loopback the encoded path does reach the route: it is /api/alerts');
  t.strictSame((await outcome(app, createRule({ origin: 'https://evil.example' }, '/%61pi/alerts'))).body, badOrigin('https://evil.example').body, 'and the origin check applies to it');
  const undecodable = await outcome(app, createRule({ from: FOREIGN }, '/%E0%A4%A/alerts'));
  t.match(undecodable, { status: 400, body: { code: 'HT_ERR_BAD_REQUEST', error: 'bad request' } }, 'an undecodable path: refused before routing (400), never let through');
  t.equal(alerting.rules().length, 2, 'only the loopback writes created rules');

  const { app: tokenApp } = await setup(t, { token: TOKEN, protectReads: true });
  t.equal((await tokenApp.inject(request('GET', '/%61pi/alerts', { from: FOREIGN }))).statusCode, 401, 'protectReads: GET /%61pi/alerts without the token 401');
  t.equal((await tokenApp.inject(request('POST', '/%61pi/alerts', { from: FOREIGN }, RULE))).statusCode, 401, 'POST /%61pi/alerts without the token 401');
});
