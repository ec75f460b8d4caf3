/**
 * Random exchange streams for engine tests and benchmarks: each exchange both
 * as a raw record (what the engine reads) and as plain facts (what a
 * brute-force reference computes from). Deterministic per seed.
 */
import { ExchangeFlags } from '../../src/capture/abi';
import { encodeExchange } from './records';

export interface Fact {
  endMs: number;
  durationSeconds: number;
  service: string;
  side: 'server' | 'client';
  method: string;
  route: string;
  status: number;
  errorType: string;
  requestBytes: number;
  responseBytes: number;
  newConnection: boolean;
  tgid: number;
  comm: string;
}

export interface Stream {
  facts: Fact[];
  records: Buffer[];
}

/** A small, fast, seeded generator (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = [
  { comm: 'nginx', port: 80, tgid: 100 },
  { comm: 'api', port: 8080, tgid: 200 },
  { comm: 'worker', port: 9000, tgid: 300 },
];
const PATHS: [string, string][] = [
  ['/users/{n}', '/users/{id}'],
  ['/users/{n}/orders', '/users/{id}/orders'],
  ['/health', '/health'],
  ['/static/app.js?v={n}', '/static/app.js'],
  ['/api/items/{uuid}', '/api/items/{id}'],
];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'DELETE'];

export interface StreamOptions {
  seed: number;
  count: number;
  startMs: number;
  spanMs: number;
  /** Traffic as it usually is: one busy service, a few hot routes, mostly GET and 200. Default: every combination equally likely. */
  skewed?: boolean;
}

/** Index k of n with probability proportional to 1 / (k + 1)^1.5. */
function zipf(rnd: () => number, n: number): number {
  const weights = Array.from({ length: n }, (_, k) => 1 / Math.pow(k + 1, 1.5));
  let r = rnd() * weights.reduce((a, b) => a + b, 0);
  for (let k = 0; k < n; k++) if ((r -= weights[k]) <= 0) return k;
  return n - 1;
}

/** Exchanges ending at random times in [startMs, startMs + spanMs), in time order. */
export function randomStream(o: StreamOptions): Stream {
  const rnd = random(o.seed);
  const ends = Array.from({ length: o.count }, () => o.startMs + Math.floor(rnd() * o.spanMs)).sort((a, b) => a - b);
  const facts: Fact[] = [];
  const records: Buffer[] = [];
  for (const endMs of ends) {
    const pick = (n: number): number => (o.skewed ? zipf(rnd, n) : Math.floor(rnd() * n));
    const svc = SERVICES[pick(SERVICES.length)];
    const side = rnd() < 0.75 ? 'server' : 'client';
    const [pattern, route] = PATHS[pick(PATHS.length)];
    const n = Math.floor(rnd() * 1e6);
    const path = pattern.replace('{n}', String(n)).replace('{uuid}', `3f2a${n.toString(16).padStart(4, '0')}-1b2c-4d5e-8f90-a1b2c3d4e5f6`);
    const method = METHODS[pick(METHODS.length)];
    const r = rnd();
    const status = o.skewed ? (r < 0.97 ? 200 : r < 0.99 ? 404 : r < 0.995 ? 503 : 0) : r < 0.8 ? 200 : r < 0.88 ? 404 : r < 0.95 ? 503 : 0;
    const reset = status === 0 && rnd() < 0.5;
    const flags = (status === 0 ? ExchangeFlags.aborted | (reset ? ExchangeFlags.reset : ExchangeFlags.closed) : 0) | (rnd() < 0.2 ? ExchangeFlags.newConnection : 0);
    // Log-uniform between 0.1 ms and 3 s: percentiles across four decades.
    const durationNs = Math.round(1e5 * Math.pow(3e4, rnd()));
    const requestBytes = 40 + Math.floor(rnd() * 400);
    const responseBytes = status === 0 ? 0 : 100 + Math.floor(rnd() * 20_000);
    const endNs = BigInt(endMs) * 1_000_000n + BigInt(Math.floor(rnd() * 1e6));
    const comm = side === 'server' ? svc.comm : 'curl';
    const tgid = side === 'server' ? svc.tgid : 900;
    records.push(
      encodeExchange({
        direction: side,
        comm,
        tgid,
        localPort: side === 'server' ? svc.port : 40000 + (n % 1000),
        peerPort: side === 'server' ? 40000 + (n % 1000) : svc.port,
        status,
        flags,
        startNs: endNs - BigInt(durationNs),
        endNs,
        requestBytes,
        responseBytes,
        head: `${method} ${path} HTTP/1.1\r\nHost: shop\r\n\r\n`,
      }),
    );
    facts.push({
      endMs: Number(endNs / 1_000_000n),
      durationSeconds: durationNs / 1e9,
      service: side === 'server' ? `${svc.comm}:${svc.port}` : 'curl',
      side,
      method,
      route,
      status,
      errorType: status === 0 ? (reset ? 'reset' : 'aborted') : status >= 500 ? '5xx' : status >= 400 && side === 'client' ? '4xx' : '',
      requestBytes,
      responseBytes,
      newConnection: (flags & ExchangeFlags.newConnection) !== 0,
      tgid,
      comm,
    });
  }
  return { facts, records };
}

/** Splits records into batches of random sizes (1..maxSize), as the capture delivers them. */
export function randomBatches(records: Buffer[], seed: number, maxSize: number): { bytes: Buffer; records: number }[] {
  const rnd = random(seed);
  const out: { bytes: Buffer; records: number }[] = [];
  for (let i = 0; i < records.length; ) {
    const n = Math.min(records.length - i, 1 + Math.floor(rnd() * maxSize));
    out.push({ bytes: Buffer.concat(records.slice(i, i + n)), records: n });
    i += n;
  }
  return out;
}

/** The exact value at rank floor(q (n - 1)) of sorted values, as LogHistogram defines its quantiles. */
export function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}
