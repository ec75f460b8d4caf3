/**
 * The shared POST client against local scripted servers: how each answer is
 * classified (2xx ok; 429, 5xx, refused, timeout retryable; other 4xx not,
 * with the body's first 256 characters), the headers it sends, retries with
 * backoff, and TLS that trusts a private CA only through caFile (the CA and
 * the server's certificate made with openssl for the test).
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { backoffMs, postWithRetry, sendOnce, type HttpTarget } from '../../src/exporters/http-sender';
import { freePort, run } from '../helpers/kernel';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

type Script = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

/** A server answering its nth request with script(…, n); records what it got. */
async function scripted(t: Test, script: Script, tls?: { key: Buffer; cert: Buffer }): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      script(req, res, seen.length);
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as net.AddressInfo;
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/write`, seen };
}

const answer = (status: number, body = '', headers: Record<string, string> = {}): Script => (_req, res) => {
  res.writeHead(status, headers);
  res.end(body);
};

const body = Buffer.from('payload');
const target = (url: string, more: Partial<HttpTarget> = {}): HttpTarget => ({ url, timeoutMs: 2000, ...more });

t.test('2xx is ok; the body, the headers and the authentication as configured', async (t) => {
  const s = await scripted(t, answer(204));
  const r = await sendOnce(target(s.url, { headers: { 'X-Scope-OrgID': 'team-a', 'content-type': 'text/plain' }, basicAuth: { username: 'user', password: 'pa:ss' } }), body, { 'Content-Type': 'application/x-protobuf' });
  t.match(r, { ok: true, status: 204, retryable: false, message: '' });
  t.equal(r.failure, undefined);
  t.equal(s.seen.length, 1);
  const [got] = s.seen;
  t.equal(got.method, 'POST');
  t.equal(got.url, '/write');
  t.same(got.body, body, 'the body byte for byte');
  t.equal(got.headers['content-length'], String(body.length));
  t.equal(got.headers['content-type'], 'application/x-protobuf', "the caller's header wins over the target's, whatever their case");
  t.equal(got.headers['x-scope-orgid'], 'team-a');
  t.equal(got.headers.authorization, `Basic ${Buffer.from('user:pa:ss').toString('base64')}`);

  const b = await sendOnce(target(s.url, { bearerToken: 's3cret', headers: { Authorization: 'Basic nope' } }), body, {});
  t.equal(b.ok, true);
  t.equal(s.seen[1].headers.authorization, 'Bearer s3cret', 'the bearer token over a configured Authorization header');
});

t.test('429 and 5xx are retryable; Retry-After is kept', async (t) => {
  const s = await scripted(t, (req, res, n) => (n === 1 ? answer(429, 'slow down', { 'Retry-After': '7' }) : answer(503, 'unavailable\n'))(req, res, n));
  t.match(await sendOnce(target(s.url), body, {}), { ok: false, status: 429, retryable: true, failure: 'status', message: 'slow down', retryAfterMs: 7000 });
  const r = await sendOnce(target(s.url), body, {});
  t.match(r, { ok: false, status: 503, retryable: true, failure: 'status', message: 'unavailable' });
  t.equal(r.retryAfterMs, undefined);
});

t.test('other 4xx: not retryable, the message is the body\'s first 256 characters', async (t) => {
  const long = `bad request: ${'x'.repeat(1000)}`;
  const s = await scripted(t, (req, res, n) => (n === 1 ? answer(400, long) : answer(404))(req, res, n));
  const r = await sendOnce(target(s.url), body, {});
  t.match(r, { ok: false, status: 400, retryable: false, failure: 'status' });
  t.equal(r.message, long.slice(0, 256));
  t.match(await sendOnce(target(s.url), body, {}), { ok: false, status: 404, retryable: false, message: 'HTTP 404' }, 'an empty body: the status');
});

t.test('postWithRetry: 500 then 200 is one retry; 400 is not retried', async (t) => {
  const s = await scripted(t, (req, res, n) => (n === 1 ? answer(500, 'boom') : answer(200))(req, res, n));
  const retries: [number, number, number][] = [];
  const r = await postWithRetry(target(s.url), body, {}, { initialMs: 10, onRetry: (res, attempt, waitMs) => retries.push([res.status, attempt, waitMs]) });
  t.match(r, { ok: true, status: 200, attempts: 2 });
  t.equal(retries.length, 1);
  t.equal(retries[0][0], 500);
  t.ok(retries[0][2] >= 0 && retries[0][2] <= 10, `waited ${retries[0][2]} ms, within the first backoff`);

  const refused = await scripted(t, answer(400, 'out of order sample'));
  const r2 = await postWithRetry(target(refused.url), body, {}, { initialMs: 10 });
  t.match(r2, { ok: false, status: 400, retryable: false, attempts: 1, message: 'out of order sample' });
  t.equal(refused.seen.length, 1, 'sent once');
});

t.test('postWithRetry: maxAttempts, Retry-After, and a signal that stops the waiting', async (t) => {
  const s = await scripted(t, answer(503, 'down', { 'Retry-After': '1' }));
  const waits: number[] = [];
  const r = await postWithRetry(target(s.url), body, {}, { initialMs: 1, maxMs: 50, maxAttempts: 3, onRetry: (_r, _a, w) => waits.push(w) });
  t.match(r, { ok: false, status: 503, attempts: 3 });
  t.same(waits, [50, 50], 'Retry-After (1 s) over the backoff, capped at maxMs');

  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 100);
  const aborted = await postWithRetry(target(s.url), body, {}, { initialMs: 60_000, maxMs: 60_000, random: () => 0.99, signal: controller.signal });
  t.match(aborted, { ok: false, status: 503, attempts: 1 });
  t.ok(Date.now() - started < 5000, 'the wait ended with the signal');
});

t.test('a server that never answers: a retryable timeout', async (t) => {
  const s = await scripted(t, () => {});
  const started = Date.now();
  const r = await sendOnce(target(s.url, { timeoutMs: 300 }), body, {});
  t.match(r, { ok: false, status: 0, retryable: true, failure: 'timeout', message: 'no answer within 300 ms' });
  t.ok(Date.now() - started >= 290 && Date.now() - started < 5000, `${Date.now() - started} ms`);
});

t.test('an error answer whose body never ends: the status, within the timeout', async (t) => {
  const s = await scripted(t, (_req, res) => {
    res.writeHead(400, { 'Content-Length': '100' });
    res.write('partial');
  });
  const r = await sendOnce(target(s.url, { timeoutMs: 300 }), body, {});
  t.match(r, { ok: false, status: 400, retryable: false, failure: 'status', message: 'partial (timeout while reading the body)' });
});

t.test('a 2xx whose body never ends: ok at once', async (t) => {
  const s = await scripted(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': '100' });
    res.write('partial');
  });
  const r = await sendOnce(target(s.url, { timeoutMs: 5000 }), body, {});
  t.match(r, { ok: true, status: 200 });
  t.ok(r.durationMs < 2500, `${r.durationMs} ms: not waiting for the body (the timeout is 5 s)`);
});

t.test('connection refused is retryable', async (t) => {
  const port = await freePort();
  const r = await sendOnce(target(`http://127.0.0.1:${port}/write`), body, {});
  t.match(r, { ok: false, status: 0, retryable: true, failure: 'network', message: /ECONNREFUSED/ });
});

t.test('a target that cannot be used rejects with HT_ERR_OPTION', async (t) => {
  await t.rejects(sendOnce(target('ftp://127.0.0.1/x'), body, {}), { code: 'HT_ERR_OPTION' });
  await t.rejects(sendOnce(target('not a url'), body, {}), { code: 'HT_ERR_OPTION' });
  await t.rejects(sendOnce(target('http://127.0.0.1/x', { bearerToken: 'a', basicAuth: { username: 'u', password: 'p' } }), body, {}), { code: 'HT_ERR_OPTION' });
  await t.rejects(sendOnce(target('http://127.0.0.1/x', { timeoutMs: 0 }), body, {}), { code: 'HT_ERR_OPTION' });
});

t.test('backoff: exponential ceilings from 500 ms to 30 s, full jitter', async (t) => {
  const top = () => 1 - Number.EPSILON;
  t.same([0, 1, 2, 3, 5, 6, 10, 1000].map((a) => backoffMs(a, {}, top)), [499, 999, 1999, 3999, 15999, 29999, 29999, 29999]);
  t.equal(backoffMs(4, {}, () => 0), 0, 'the jitter reaches zero');
  t.equal(backoffMs(2, { initialMs: 100, maxMs: 250 }, () => 0.5), 125);
  for (let i = 0; i < 200; i++) {
    const w = backoffMs(3);
    if (w < 0 || w >= 4000) t.fail(`backoffMs(3) = ${w}`);
  }
});

const opensslSkip = process.env.CI !== 'true' && !fs.existsSync('/usr/bin/openssl') ? 'needs openssl' : false;

t.test('TLS: a private CA is trusted only through caFile', { skip: opensslSkip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-sender-tls-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = (name: string) => path.join(dir, name);
  fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const steps = [
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=http-tracer test CA'],
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1'],
    ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('san.ext')],
  ];
  for (const args of steps) {
    const r = await run('openssl', args);
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  }
  const s = await scripted(t, answer(200), { key: fs.readFileSync(f('server.key')), cert: fs.readFileSync(f('server.pem')) });

  const untrusted = await sendOnce(target(s.url), body, {});
  t.match(untrusted, { ok: false, status: 0, retryable: true, failure: 'tls' }, `without caFile: ${untrusted.message}`);
  t.equal(s.seen.length, 0, 'nothing reached the server');

  const trusted = await sendOnce(target(s.url, { caFile: f('ca.pem') }), body, {});
  t.match(trusted, { ok: true, status: 200 });
  t.same(s.seen[0].body, body);

  t.match(await sendOnce(target(s.url, { ca: fs.readFileSync(f('ca.pem'), 'utf8') }), body, {}), { ok: true, status: 200 }, 'the CA as PEM text');
  await t.rejects(sendOnce(target(s.url, { ca: 'x', caFile: f('ca.pem') }), body, {}), { code: 'HT_ERR_OPTION' }, 'not both');

  const missing = await sendOnce(target(s.url, { caFile: f('nope.pem') }), body, {});
  t.match(missing, { ok: false, status: 0, retryable: true, failure: 'ca_file', message: /nope\.pem/ });
});
