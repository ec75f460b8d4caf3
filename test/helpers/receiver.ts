/**
 * A real HTTP receiver on loopback for notifier tests: records every
 * request (method, path, headers, body) and answers as scripted: accept
 * (200), fail with a status, hang (never answer), or go down and come back
 * on the same port.
 *
 *   const r = await startReceiver();
 *   r.script({ status: 500 }, { status: 500 });   // the next two fail, then the default (accept)
 *   await r.waitFor((all) => all.length === 3);
 */
import http from 'node:http';
import type net from 'node:net';

export type Answer = 'accept' | 'hang' | { status: number; body?: string };

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed, when it is JSON. */
  json: unknown;
  /** What the receiver answered. */
  answer: Answer;
  at: number;
}

export interface Receiver {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Every request, in arrival order. */
  received: Received[];
  /** The requests answered 2xx. */
  accepted(): Received[];
  /** Answers for the next requests, in order; after them, the default. */
  script(...answers: Answer[]): void;
  /** The answer once the script is used up (initially 'accept'). */
  setDefault(answer: Answer): void;
  /** Resolves with the requests once pred holds; throws what arrived after timeoutMs. */
  waitFor(pred: (all: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  /** Stops listening and cuts every connection (hanging requests too): the port refuses connections. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(options: { port?: number } = {}): Promise<Receiver> {
  const received: Received[] = [];
  const queue: Answer[] = [];
  let fallback: Answer = 'accept';
  const sockets = new Set<net.Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const answer = queue.length > 0 ? queue.shift()! : fallback;
      received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json, answer, at: Date.now() });
      if (answer === 'hang') return;
      const status = answer === 'accept' ? 200 : answer.status;
      const text = answer === 'accept' ? 'ok' : (answer.body ?? '');
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.removeListener('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const port = await listen(options.port ?? 0);
  let listening = true;

  const down = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    accepted: () => received.filter((r) => r.answer === 'accept' || (typeof r.answer === 'object' && r.answer.status >= 200 && r.answer.status < 300)),
    script: (...answers) => void queue.push(...answers),
    setDefault: (answer) => void (fallback = answer),
    async waitFor(pred, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(received)) {
        if (Date.now() > deadline) throw new Error(`receiver: timed out after ${timeoutMs} ms; received ${received.length}: ${received.map((r) => r.body.slice(0, 200)).join('\n')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return received;
    },
    down,
    async up() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    close: down,
  };
}
