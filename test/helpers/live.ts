/**
 * Live-hub test support: an agent port with the hub on a real engine (the
 * store filled by hand when a test needs many series), WebSocket clients
 * that queue what they get, and a probe of the event loop's responsiveness.
 */
import type { Test } from 'tap';
import { WebSocket } from 'ws';
import { engineReaders } from '../../src/agent/readers';
import type { DeltaCell } from '../../src/analytics/cells';
import { Distribution } from '../../src/analytics/distribution';
import { seriesKey } from '../../src/analytics/families';
import { Engine } from '../../src/pipeline/engine';
import { buildApp, type AppSources } from '../../src/server/app';
import { LiveHub } from '../../src/server/live/hub';
import { DEFAULT_LIVE, type LiveOptions, type LiveSecurity } from '../../src/config/live-options';
import { NO_HTTP_IDENTITY } from './identity-labels';
import { batchOf, encodeExchange } from './records';

export const NOW = 1_800_000_000_000;

/** n exchanges of comm "api" on :8080 two seconds before NOW, every fifth a 500. */
export function records(n: number, route = (i: number) => `/users/${i}`): Buffer {
  const endNs = BigInt(NOW - 2000) * 1_000_000n;
  return batchOf(...Array.from({ length: n }, (_, i) => encodeExchange({ comm: 'api', localPort: 8080, head: `GET ${route(i)} HTTP/1.1\r\n\r\n`, status: i % 5 === 0 ? 500 : 200, startNs: endNs - 3_000_000n, endNs })));
}

export interface LiveSetup {
  engine: Engine;
  hub: LiveHub;
  /** ws://127.0.0.1:port */
  url: string;
  /** http://127.0.0.1:port */
  http: string;
}

/** `app`: more of the port (the dashboard, the REST token guard). */
export async function startLive(t: Test, live: Partial<LiveOptions> = {}, batch = records(10), security?: LiveSecurity, app: Partial<AppSources> = {}): Promise<LiveSetup> {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000, seriesLimits: { perService: 50_000, global: 50_000 } });
  engine.ingest(batch, batch.length / encodeExchange({ head: `GET /users/0 HTTP/1.1\r\n\r\n` }).length);
  await engine.sync();
  const hub = new LiveHub(engine.store, { ...DEFAULT_LIVE, ...live }, security);
  const server = buildApp({ ...engineReaders(engine), scrape: async () => '', startedAtMs: Date.now(), live: hub, ...app });
  hub.attach(server.server);
  const http = await server.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    hub.close();
    await server.close();
    await engine.stop();
  });
  return { engine, hub, url: http.replace('http', 'ws'), http };
}

/**
 * `count` duration series straight into the store (services svc0..svc9,
 * routes /r/0.., one exchange each 20 s before nowMs): the cost of a live
 * query grows with them.
 */
export function fillStore(engine: Engine, count: number, nowMs = NOW): void {
  const cells: DeltaCell[] = [];
  for (let i = 0; i < count; i++) {
    const d = new Distribution();
    d.record(0.001 * ((i % 50) + 1));
    const labels = [`svc${i % 10}:80`, 'server', '80', 'GET', `/r/${i}`, ...(i % 7 === 0 ? ['500', '5xx'] : ['200', '']), ...NO_HTTP_IDENTITY];
    cells.push({ family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs: nowMs - (nowMs % 10_000) - 20_000, value: 1, dist: d.toData(), bounds: [1, ...new Array(14).fill(0)] });
  }
  engine.store.ingest(cells);
}

export type Message = Record<string, unknown>;

export interface LiveClient {
  ws: WebSocket;
  inbox: Message[];
  /** The first queued message of this type (that `where` accepts), taken out of the inbox; throws after timeoutMs. */
  next(type: string, timeoutMs?: number, where?: (m: Message) => boolean): Promise<Message>;
  send(m: unknown): void;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

export async function connect(url: string, protocols?: string | string[], options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<LiveClient> {
  const ws = new WebSocket(url, protocols, options);
  const inbox: Message[] = [];
  const waiting: (() => void)[] = [];
  ws.on('message', (data) => {
    inbox.push(JSON.parse(data.toString()) as Message);
    waiting.splice(0).forEach((w) => w());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (type: string, timeoutMs = 3000, where: (m: Message) => boolean = () => true): Promise<Message> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = inbox.findIndex((m) => m.type === type && where(m));
      if (i >= 0) return inbox.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`no ${type} within ${timeoutMs} ms; got ${JSON.stringify(inbox.map((m) => m.type))}`);
      await new Promise<void>((r) => {
        waiting.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return { ws, inbox, next, send: (m: unknown) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)), closed };
}

/** What an upgrade was answered with instead of 101: the status and body, or the error. */
export function refusal(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}, protocols?: string[]): Promise<{ status: number; body: string; headers: Record<string, unknown> } | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, options);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    ws.on('open', () => {
      ws.close();
      resolve('opened');
    });
    ws.on('error', (e) => resolve(e.message));
  });
}

/**
 * While it runs: how late a 10 ms timer fires (the longest the loop was held)
 * and how long GET /api/health takes over real HTTP, one request after another.
 */
export function probeResponsiveness(http: string): { stop(): Promise<{ maxLateMs: number; maxHealthMs: number; healthAnswers: number }> } {
  let maxLateMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxLateMs = Math.max(maxLateMs, now - last - 10);
    last = now;
  }, 10);
  let running = true;
  let maxHealthMs = 0;
  let healthAnswers = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const res = await fetch(`${http}/api/health`);
      await res.arrayBuffer();
      if (res.status === 200) healthAnswers++;
      maxHealthMs = Math.max(maxHealthMs, performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      clearInterval(timer);
      await loop;
      return { maxLateMs, maxHealthMs, healthAnswers };
    },
  };
}
