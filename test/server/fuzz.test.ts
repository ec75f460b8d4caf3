/**
 * REST fuzzing (issue 9): thousands of generated bad requests across every
 * route — bad and unknown parameters, huge values, repeated parameters, wrong
 * methods, odd paths, bad headers, oversized bodies — each answered with a 4xx
 * and a JSON error carrying a code (never a 5xx, never a hang), and the agent
 * answers /api/health afterwards. Through inject() (fast), then a smaller
 * batch of raw bytes over real HTTP. Deterministic: a seeded generator.
 */
import t from 'tap';
import { engineReaders } from '../../src/agent/readers';
import { Engine } from '../../src/pipeline/engine';
import { buildApp } from '../../src/server/app';
import { createExporter } from '../../src/exporters/prometheus';
import { rawExchange } from '../helpers/raw-http';
import { batchOf, encodeExchange } from '../helpers/records';

/** mulberry32: small, seeded, good enough to pick cases. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = random(9);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)];
const enc = encodeURIComponent;

// The dashboard's page and assets ignore query strings, as web pages do; every API route refuses them.
const ROUTES_WITHOUT_QUERY = ['/api/health', '/api/processors', '/api/stats', '/api/alerts', '/metrics'];
const ROUTES_WITH_QUERY = ['/api/metrics', '/api/series'];
const PARAMS = ['window', 'service', 'route', 'side', 'method', 'status_class', 'limit'];
const WRONG_METHODS = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const ODD_PATHS = ['/api', '/api/', '/api/metrics/', '//api/health', '/api/%00', '/api/%ff%fe', '/%2e%2e/etc/passwd', '/api/metrics;x=1', `/${'a'.repeat(4000)}`, '/ws', '/api/health/..', '/METRICS', '/api/Health', '/assets/', '/assets/../../package.json', '/api/metrics%3Fwindow=1m'];

function junk(): string {
  const kinds = [
    () => String.fromCharCode(...Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => Math.floor(rnd() * 256))),
    () => 'x'.repeat(257 + Math.floor(rnd() * 20_000)),
    () => pick(['-1', '0', '1e9', 'NaN', 'Infinity', '1.5', '', ' ', 'null', '[]', '{}', '0x10', '9999999999999999999', '1m; DROP', '../', '%', '\u0000', '\u009b', '5xx,4xx', 'SERVER', '1M', '10ms', '60s ', '01m', '0m', '99999999d']),
  ];
  return pick(kinds)();
}

/** A bad value for a known parameter of /api/metrics or /api/series. */
function badValue(param: string): string {
  switch (param) {
    case 'window':
      return pick(['abc', '0m', '7s', '2d', '40d', '1.5m', '-1m', '1 m', '', '1M', '10ms', '99999999d', 'x'.repeat(5000)]);
    case 'side':
      return pick(['both', 'SERVER', '', '1', junk()]);
    case 'status_class':
      return pick(['6xx', '2XX', '', 'none,2xx', junk()]);
    case 'limit':
      return pick(['0', '-1', '1001', 'many', '1.5', '1e99', '']);
    case 'method':
      return 'M'.repeat(17 + Math.floor(rnd() * 100));
    case 'service':
      return 's'.repeat(257 + Math.floor(rnd() * 5000));
    default:
      return 'r'.repeat(513 + Math.floor(rnd() * 5000));
  }
}

interface FuzzRequest {
  method: 'GET' | 'HEAD' | (typeof WRONG_METHODS)[number];
  url: string;
  headers?: Record<string, string>;
  payload?: string;
}

/** One request that must be refused, with a reason for the failure message. */
function badRequest(): FuzzRequest {
  const headers: Record<string, string> = {};
  if (rnd() < 0.3) headers[pick(['content-type', 'accept', 'x-forwarded-for', 'authorization', 'cookie', 'range'])] = junk().replace(/[^\x20-\x7e]/g, '?').slice(0, 8000);
  switch (Math.floor(rnd() * 6)) {
    case 0: // any parameter on a route that takes none
      return { method: 'GET', url: `${pick(ROUTES_WITHOUT_QUERY)}?${enc(pick([...PARAMS, 'x', 'verbose', '__proto__', 'constructor']))}=${enc(junk())}`, headers };
    case 1: {
      // a bad value for a known parameter, among good ones
      const param = pick(PARAMS);
      const route = ['method', 'status_class', 'limit'].includes(param) ? '/api/metrics' : pick(ROUTES_WITH_QUERY);
      return { method: 'GET', url: `${route}?window=1m&${param}=${enc(badValue(param))}`, headers };
    }
    case 2: // an unknown parameter, or a repeated one
      return {
        method: 'GET',
        url: `${pick(ROUTES_WITH_QUERY)}?${rnd() < 0.5 ? `${enc(junk() || 'x')}z=1` : `window=1m&window=${pick(['1m', '5m', '15m'])}`}`,
        headers,
      };
    case 3: // a wrong method on a known path, maybe with a body
      return {
        method: pick(WRONG_METHODS),
        url: pick([...ROUTES_WITHOUT_QUERY, ...ROUTES_WITH_QUERY]),
        headers: { ...headers, 'content-type': pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) },
        payload: pick(['{', '{"a":1}', 'x'.repeat(70 * 1024), junk()]),
      };
    case 4: // an odd path, any method
      return { method: pick(['GET', 'HEAD', ...WRONG_METHODS]), url: pick(ODD_PATHS), headers };
    default: // an oversized body where none is taken
      return { method: 'POST', url: pick(['/api/metrics', '/api/health', '/api/nothing']), headers: { 'content-type': 'application/json' }, payload: `{"x":"${'y'.repeat(65 * 1024 + Math.floor(rnd() * 100_000))}"}` };
  }
}

const NOW = 1_800_000_000_000;

t.test('2 500 generated bad requests: every one a 4xx with a JSON error code; the agent answers afterwards', async (t) => {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000 });
  const records = Array.from({ length: 50 }, (_, i) =>
    encodeExchange({ head: `GET /users/${i} HTTP/1.1\r\n\r\n`, status: i % 7 === 0 ? 500 : 200, startNs: BigInt(NOW - 1000 * i - 5) * 1_000_000n, endNs: BigInt(NOW - 1000 * i) * 1_000_000n }),
  );
  engine.ingest(batchOf(...records), records.length);
  await engine.sync();
  const app = buildApp({ ...engineReaders(engine), scrape: createExporter(engineReaders(engine)).scrape, startedAtMs: Date.now(), dashboard: true });
  t.teardown(async () => {
    await app.close();
    await engine.stop();
  });

  const statuses: Record<string, number> = {};
  const wrong: string[] = [];
  for (let i = 0; i < 2500; i++) {
    const req = badRequest();
    const r = await app.inject(req);
    statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
    const coded = req.method === 'HEAD' || /"code":"HT_ERR_[A-Z_]+"/.test(r.body);
    if (r.statusCode < 400 || r.statusCode >= 500 || !coded) wrong.push(`${r.statusCode} ${req.method} ${req.url.slice(0, 100)}: ${r.body.slice(0, 160)}`);
  }
  t.same(wrong.slice(0, 40), [], `every answer a coded 4xx (statuses: ${JSON.stringify(statuses)})`);
  t.ok(Object.keys(statuses).length >= 4, 'the generator reaches several kinds of refusal');
  const health = await app.inject('/api/health');
  t.equal(health.statusCode, 200);
  t.equal(health.json().status, 'healthy');
  t.equal((await app.inject('/api/metrics?window=1m')).json().totals.requests, 50, 'the data unharmed');

  // Over real HTTP: raw bytes the client libraries would refuse to send.
  const port = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);
  const raw = [
    'GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'GET /api/health HTTP/1.1\r\nHost: x\r\nHost: y\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'GET /api/health HTTP/9.9\r\n\r\n',
    'GET /api/\x01health HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /api/health HTTP/1.1\r\nBad Header: x\r\n\r\n',
    `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    'BREW /api/health HTTP/1.1\r\nHost: x\r\n\r\n',
    'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n',
    'POST /api/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n{}',
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
    'GET http://evil.example/api/health HTTP/1.1\r\nHost: evil.example\r\n\r\n'.replace('/api/health', '/api/health?x=1'),
    'GET /api/metrics?window=1m&window=5m HTTP/1.1\r\nHost: x\r\n\r\n',
  ];
  const rawWrong: string[] = [];
  for (let round = 0; round < 20; round++) {
    const answers = await Promise.all(raw.map((text) => rawExchange(port, text, 12_000)));
    answers.forEach((answer, i) => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
      if (!(status >= 400 && status < 500)) rawWrong.push(`${JSON.stringify(raw[i].slice(0, 60))} → ${JSON.stringify(answer.slice(0, 80))}`);
    });
  }
  t.same(rawWrong, [], 'every raw request refused with a 4xx over real HTTP');
  const after = await fetch(`http://127.0.0.1:${port}/api/health`, { signal: AbortSignal.timeout(2000) });
  t.equal(after.status, 200, 'the port answers afterwards');
});
