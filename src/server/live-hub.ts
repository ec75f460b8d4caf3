/**
 * Live data over WebSocket, on the agent's port.
 *
 *   /ws/{client_id}  seed 000's protocol: the client sends {type:"subscribe", query_id, ...}
 *                    and {type:"unsubscribe", query_id}; the agent sends realtime_update
 *                    (RED for the query, every second), new_event (exchanges, sampled),
 *                    new_metric (a series seen for the first time: a new route, service,
 *                    status…), alert_triggered (when alerting lands), error.
 *   /ws/analytics    seed 003: a snapshot of every service's RED, broadcast periodically.
 *
 * Bounded everywhere: at most maxConnections sockets (more get 503), 64 KiB
 * per message from a client, 10 subscriptions per socket, a ping every
 * heartbeat (no pong by the next one: terminated), and a consumer with more
 * than maxBufferedBytes waiting is closed (1013, with the reason) instead of
 * buffered without bound.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { parseDuration } from '../analytics/duration';
import type { MetricStore } from '../analytics/store';
import { ExchangeCursor } from '../capture/decoder';
import { apiMetrics, type MetricsQuery } from './api-metrics';

export interface LiveOptions {
  maxConnections: number;
  heartbeatMs: number;
  /** How often /ws/analytics gets a snapshot. */
  snapshotMs: number;
  maxBufferedBytes: number;
  /** Exchanges sent as new_event per second, at most (the rest are counted, not sent). */
  maxEventsPerSecond: number;
}

export const DEFAULT_LIVE: LiveOptions = { maxConnections: 100, heartbeatMs: 30_000, snapshotMs: 2_000, maxBufferedBytes: 1 << 20, maxEventsPerSecond: 50 };

const CLIENT_ID = /^\/ws\/([A-Za-z0-9_.-]{1,64})$/;
const MAX_SUBSCRIPTIONS = 10;

type Subscription = { kind: 'metrics'; query: MetricsQuery; windowMs: number } | { kind: 'exchanges' };

interface Client {
  ws: WebSocket;
  analytics: boolean;
  subscriptions: Map<string, Subscription>;
  alive: boolean;
}

export interface LiveStats {
  connections: number;
  rejectedFull: number;
  closedSlow: number;
  eventsSent: number;
  eventsSkipped: number;
}

export class LiveHub {
  private readonly store: MetricStore;
  private readonly options: LiveOptions;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly clients = new Set<Client>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly counters = { rejectedFull: 0, closedSlow: 0, eventsSent: 0, eventsSkipped: 0 };
  private eventsThisSecond = 0;
  /** Subscriptions to the exchange stream, over all clients: per batch, the only thing checked when it is 0. */
  private exchangeSubscriptions = 0;

  constructor(store: MetricStore, options: LiveOptions) {
    this.store = store;
    this.options = options;
    store.onNewSeries((series) => {
      const labels = Object.fromEntries(series.family.labels.map((name, i) => [name, series.labels[i]]));
      const text = JSON.stringify({ type: 'new_metric', data: { name: series.family.name, kind: series.family.kind, labels } });
      for (const c of this.clients) if (!c.analytics) this.sendText(c, text);
    });
    this.timers.push(setInterval(() => this.heartbeat(), options.heartbeatMs).unref());
    this.timers.push(setInterval(() => this.snapshot(), options.snapshotMs).unref());
    this.timers.push(
      setInterval(() => {
        this.eventsThisSecond = 0;
        this.realtime();
      }, 1000).unref(),
    );
  }

  /** Takes over WebSocket upgrades on the HTTP server. */
  attach(server: Server): void {
    server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  /**
   * A batch of raw records for new_event subscribers: decoded only while the
   * per-second budget lasts; the rest are counted, not sent. Nothing is
   * decoded when nobody listens.
   */
  exchanges(batch: Uint8Array, records: number, clockOffsetMs: number): void {
    if (this.exchangeSubscriptions === 0) return;
    const listeners = [...this.clients].filter((c) => [...c.subscriptions.values()].some((s) => s.kind === 'exchanges'));
    const cursor = new ExchangeCursor(batch);
    let decoded = 0;
    while (this.eventsThisSecond < this.options.maxEventsPerSecond && cursor.next()) {
      const e = cursor.toExchange();
      decoded++;
      this.eventsThisSecond++;
      this.counters.eventsSent++;
      const data = {
        time: new Date(Number(e.startMonotimeNs) / 1e6 + clockOffsetMs).toISOString(),
        side: e.direction,
        pid: e.tgid,
        process: e.comm,
        local: `${e.localAddress}:${e.localPort}`,
        peer: `${e.peerAddress}:${e.peerPort}`,
        method: e.method,
        target: e.target,
        status: e.status,
        aborted: e.aborted,
        duration_ms: e.durationNs / 1e6,
        request_bytes: e.requestBytes,
        response_bytes: e.responseBytes,
      };
      for (const c of listeners) {
        for (const [queryId, s] of c.subscriptions) if (s.kind === 'exchanges') this.send(c, { type: 'new_event', query_id: queryId, data });
      }
    }
    this.counters.eventsSkipped += records - decoded;
  }

  stats(): LiveStats {
    return { connections: this.clients.size, ...this.counters };
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    const analytics = path === '/ws/analytics';
    if (!analytics && !CLIENT_ID.test(path)) return refuse(socket, 404, 'Not Found', 'no WebSocket here: /ws/analytics or /ws/{client_id} (letters, digits, _ . -; at most 64)');
    if (this.clients.size >= this.options.maxConnections) {
      this.counters.rejectedFull++;
      return refuse(socket, 503, 'Service Unavailable', `at most ${this.options.maxConnections} WebSocket connections`);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const client: Client = { ws, analytics, subscriptions: new Map(), alive: true };
      this.clients.add(client);
      ws.on('pong', () => (client.alive = true));
      ws.on('close', () => this.remove(client));
      ws.on('error', () => ws.terminate());
      if (!analytics) ws.on('message', (data, isBinary) => this.message(client, data.toString(), isBinary));
      if (analytics) this.send(client, this.snapshotMessage());
    });
  }

  private message(client: Client, text: string, isBinary: boolean): void {
    const error = (message: string): void => this.send(client, { type: 'error', message });
    if (isBinary) return error('messages are JSON text');
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch (e) {
      return error(`not JSON: ${(e as Error).message}`);
    }
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return error('a message is a JSON object with a "type"');
    const msg = m as Record<string, unknown>;
    const queryId = msg.query_id;
    if (msg.type !== 'subscribe' && msg.type !== 'unsubscribe') return error(`type: ${JSON.stringify(msg.type)} is not subscribe or unsubscribe`);
    if (typeof queryId !== 'string' || queryId.length === 0 || queryId.length > 64) return error('query_id: a string of 1 to 64 characters is needed');
    if (msg.type === 'unsubscribe') {
      const old = client.subscriptions.get(queryId);
      if (!old) return error(`query_id: ${JSON.stringify(queryId)} is not subscribed`);
      if (old.kind === 'exchanges') this.exchangeSubscriptions--;
      client.subscriptions.delete(queryId);
      return this.send(client, { type: 'unsubscribed', query_id: queryId });
    }
    if (!client.subscriptions.has(queryId) && client.subscriptions.size >= MAX_SUBSCRIPTIONS) return error(`at most ${MAX_SUBSCRIPTIONS} subscriptions per connection`);
    const subscription = this.subscription(msg);
    if (typeof subscription === 'string') return error(subscription);
    if (client.subscriptions.get(queryId)?.kind === 'exchanges') this.exchangeSubscriptions--;
    if (subscription.kind === 'exchanges') this.exchangeSubscriptions++;
    client.subscriptions.set(queryId, subscription);
    this.send(client, { type: 'subscribed', query_id: queryId });
    if (subscription.kind === 'metrics') this.send(client, this.update(queryId, subscription));
  }

  /** What a subscribe message asks for, or what is wrong with it. */
  private subscription(msg: Record<string, unknown>): Subscription | string {
    if (msg.stream !== undefined) return msg.stream === 'exchanges' ? { kind: 'exchanges' } : `stream: ${JSON.stringify(msg.stream)} is not "exchanges"`;
    const window = msg.window ?? '1m';
    const windowMs = parseDuration(window);
    if (windowMs === undefined) return `window: ${JSON.stringify(window)} is not a duration such as 1m or 1h`;
    const problem = this.store.windowProblem(windowMs);
    if (problem) return `window: ${window} ${problem}`;
    const query: MetricsQuery = { window: window as string, limit: 20 };
    for (const key of ['service', 'route', 'method'] as const) {
      const v = msg[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v.length > 512) return `${key}: a string of at most 512 characters is needed`;
      query[key] = v;
    }
    if (msg.side !== undefined) {
      if (msg.side !== 'server' && msg.side !== 'client') return 'side: "server" or "client"';
      query.side = msg.side;
    }
    return { kind: 'metrics', query, windowMs };
  }

  private update(queryId: string, s: Extract<Subscription, { kind: 'metrics' }>): object {
    return { type: 'realtime_update', query_id: queryId, data: apiMetrics(this.store, s.query, s.windowMs) };
  }

  private realtime(): void {
    for (const c of this.clients) {
      for (const [queryId, s] of c.subscriptions) if (s.kind === 'metrics') this.send(c, this.update(queryId, s));
    }
  }

  private snapshotMessage(): object {
    return { type: 'analytics_snapshot', data: apiMetrics(this.store, { window: '1m', limit: 50 }, 60_000) };
  }

  private snapshot(): void {
    const listeners = [...this.clients].filter((c) => c.analytics);
    if (listeners.length === 0) return;
    const text = JSON.stringify(this.snapshotMessage());
    for (const c of listeners) this.sendText(c, text);
  }

  /** A client gone (closed, or dropped as slow): its subscriptions go with it. */
  private remove(client: Client): void {
    if (!this.clients.delete(client)) return;
    for (const s of client.subscriptions.values()) if (s.kind === 'exchanges') this.exchangeSubscriptions--;
  }

  private heartbeat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  private send(client: Client, message: object): void {
    this.sendText(client, JSON.stringify(message));
  }

  /** Sends, unless the client has fallen behind: then it is closed with the reason. */
  private sendText(client: Client, text: string): void {
    const ws = client.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.options.maxBufferedBytes) {
      this.counters.closedSlow++;
      ws.close(1013, `slow consumer: more than ${this.options.maxBufferedBytes} bytes waiting`);
      setTimeout(() => ws.terminate(), 1000).unref();
      this.remove(client);
      return;
    }
    ws.send(text);
  }
}

function refuse(socket: Duplex, status: number, reason: string, message: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`);
}
