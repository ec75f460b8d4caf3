/**
 * Live data over WebSocket, on the agent's port.
 *
 *   /ws/{client_id}  seed 000's protocol (protocol.ts): subscribe / unsubscribe; the agent
 *                    sends realtime_update (RED for the query, about every second),
 *                    new_event (exchanges, sampled), new_metric (a series seen for the
 *                    first time), error.
 *   /ws/analytics    seed 003: a snapshot of every service's RED, periodically.
 *   both             alert_triggered / alert_resolved {alert} as alerts change state.
 *
 *   upgrade ──> path (404) ──> origin, token (403, 401: upgrade-guard.ts) ──> cap (503) ──> client
 *   message ──> rate (message-rate.ts: refused, then closed 1008) ──> parse ──> subscriptions
 *   subscriptions ──> QueryScheduler: one evaluation per distinct query, on a time budget
 *   capture batch ──> ExchangeStream (decoded within the per-second budget, redacted) ──> new_event
 *
 * Nothing a client sends runs a store query inline: a message costs O(its
 * size); evaluations run one per macrotask within queryBudgetMsPerSecond.
 * Bounded everywhere: maxConnections sockets, 64 KiB per message, 10
 * subscriptions per connection, maxQueries distinct queries in all, a ping
 * every heartbeat (no pong by the next one: terminated), and a consumer with
 * more than maxBufferedBytes waiting is closed (1013) instead of buffered.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { AlertEvent } from '../../alerting/types';
import type { MetricStore, Series } from '../../analytics/store';
import { compileRedactPatterns } from '../../capture/redact';
import { apiMetrics } from '../api-metrics';
import { controlEscapingReplacer } from '../safe-text';
import { ExchangeStream } from './exchange-stream';
import { MessageRate } from './message-rate';
import { DEFAULT_LIVE_SECURITY, type LiveOptions, type LiveSecurity } from '../../config/live-options';
import { PerSecondBudget } from './per-second-budget';
import { parseClientMessage, wrapData, type Subscription } from './protocol';
import { QueryScheduler, type QueryListener } from './query-scheduler';
import { UpgradeGuard, type Refusal } from './upgrade-guard';

const CLIENT_ID = /^\/ws\/([A-Za-z0-9_.-]{1,64})$/;
const MAX_SUBSCRIPTIONS = 10;
const REALTIME_REFRESH_MS = 1000;
/** The /ws/analytics snapshot: one shared query like the others (never refused by maxQueries). */
const SNAPSHOT_KEY = 'analytics snapshot';
const SNAPSHOT_QUERY = { window: '1m', limit: 50 };

interface Client {
  ws: WebSocket;
  analytics: boolean;
  subscriptions: Map<string, ClientSubscription>;
  alive: boolean;
  rate: MessageRate;
  /** /ws/analytics: its snapshot listener. */
  snapshot?: QueryListener;
}

type ClientSubscription = { kind: 'metrics'; key: string; listener: QueryListener } | { kind: 'exchanges'; client: Client; queryId: string };

export interface LiveStats {
  connections: number;
  rejectedFull: number;
  rejectedOrigin: number;
  rejectedToken: number;
  closedSlow: number;
  /** Closed for sending too many messages too fast (1008). */
  closedFlooding: number;
  messagesRefused: number;
  eventsSent: number;
  eventsSkipped: number;
  newMetricsSkipped: number;
  /** Distinct queries evaluated (the /ws/analytics snapshot included), and their cost. */
  queries: number;
  evaluations: number;
  evaluationMs: number;
  maxEvaluationMs: number;
}

export class LiveHub {
  private readonly store: MetricStore;
  private readonly options: LiveOptions;
  private readonly guard: UpgradeGuard;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  /** Clients of /ws/{id} (not /ws/analytics): who gets new_metric. */
  private streamClients = 0;
  private readonly exchangeSubscribers = new Set<Extract<ClientSubscription, { kind: 'exchanges' }>>();
  private readonly scheduler: QueryScheduler;
  private readonly stream: ExchangeStream;
  private readonly newMetrics: PerSecondBudget;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly counters = { rejectedFull: 0, rejectedOrigin: 0, rejectedToken: 0, closedSlow: 0, closedFlooding: 0, messagesRefused: 0 };

  constructor(store: MetricStore, options: LiveOptions, security: LiveSecurity = DEFAULT_LIVE_SECURITY) {
    this.store = store;
    this.options = options;
    this.guard = new UpgradeGuard(security);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, handleProtocols: (offered) => this.guard.selectProtocol(offered) });
    this.scheduler = new QueryScheduler(options.queryBudgetMsPerSecond);
    this.stream = new ExchangeStream(options.maxEventsPerSecond, compileRedactPatterns(security.redactPatterns));
    this.newMetrics = new PerSecondBudget(options.maxNewMetricsPerSecond);
    store.onNewSeries((series) => this.announce(series));
    this.timers.push(setInterval(() => this.heartbeat(), options.heartbeatMs).unref());
    this.timers.push(
      setInterval(() => {
        this.stream.budget.newSecond();
        this.newMetrics.newSecond();
      }, 1000).unref(),
    );
  }

  /** Takes over WebSocket upgrades on the HTTP server. */
  attach(server: Server): void {
    server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  /**
   * A batch of raw records for new_event subscribers (called on the capture
   * path): nothing is decoded when nobody listens or the second's budget is spent.
   */
  exchanges(batch: Uint8Array, records: number, clockOffsetMs: number): void {
    if (this.exchangeSubscribers.size === 0) return;
    for (const json of this.stream.events(batch, records, clockOffsetMs)) {
      for (const s of this.exchangeSubscribers) this.sendText(s.client, wrapData('new_event', s.queryId, json));
    }
  }

  stats(): LiveStats {
    const { queries, evaluations, evaluationMs, maxEvaluationMs } = this.scheduler.stats();
    return {
      connections: this.clients.size,
      ...this.counters,
      eventsSent: this.stream.budget.taken,
      eventsSkipped: this.stream.budget.skipped,
      newMetricsSkipped: this.newMetrics.skipped,
      queries,
      evaluations,
      evaluationMs,
      maxEvaluationMs,
    };
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.scheduler.close();
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    const analytics = path === '/ws/analytics';
    if (!analytics && !CLIENT_ID.test(path)) return refuse(socket, { status: 404, reason: 'Not Found', message: 'no WebSocket here: /ws/analytics or /ws/{client_id} (letters, digits, _ . -; at most 64)' });
    const refusal = this.guard.refusal(req);
    if (refusal) {
      if (refusal.status === 403) this.counters.rejectedOrigin++;
      else this.counters.rejectedToken++;
      return refuse(socket, refusal);
    }
    if (this.clients.size >= this.options.maxConnections) {
      this.counters.rejectedFull++;
      return refuse(socket, { status: 503, reason: 'Service Unavailable', message: `at most ${this.options.maxConnections} WebSocket connections` });
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const rate = new MessageRate({ perSecond: this.options.messagesPerSecond, burst: this.options.messageBurst });
      const client: Client = { ws, analytics, subscriptions: new Map(), alive: true, rate };
      this.clients.add(client);
      ws.on('pong', () => (client.alive = true));
      ws.on('close', () => this.remove(client));
      ws.on('error', () => ws.terminate());
      if (analytics) {
        client.snapshot = { update: (json) => this.sendText(client, wrapData('analytics_snapshot', undefined, json)), fail: (message) => this.send(client, { type: 'error', message }) };
        this.scheduler.subscribe(SNAPSHOT_KEY, { evaluate: () => this.evaluate(SNAPSHOT_QUERY, 60_000), refreshMs: this.options.snapshotMs }, client.snapshot);
      } else {
        this.streamClients++;
        ws.on('message', (data, isBinary) => this.message(client, data.toString(), isBinary));
      }
    });
  }

  private message(client: Client, text: string, isBinary: boolean): void {
    if (!this.clients.has(client)) return; // dropped; frames already read still arrive
    const error = (message: string): void => this.send(client, { type: 'error', message });
    const admission = client.rate.admit();
    if (admission !== 'handle') {
      this.counters.messagesRefused++;
      const limit = `at most ${this.options.messagesPerSecond} messages per second (bursts of ${this.options.messageBurst})`;
      if (admission === 'refuse') return error(`rate limit: ${limit}; this message was not handled`);
      this.counters.closedFlooding++;
      return this.drop(client, 1008, `too many messages: ${limit}`);
    }
    const command = parseClientMessage(text, isBinary, (windowMs) => this.store.windowProblem(windowMs));
    if (typeof command === 'string') return error(command);
    const { queryId } = command;
    const old = client.subscriptions.get(queryId);
    if (command.type === 'unsubscribe') {
      if (!old) return error(`query_id: ${JSON.stringify(queryId)} is not subscribed`);
      this.release(client, queryId, old);
      return this.send(client, { type: 'unsubscribed', query_id: queryId });
    }
    if (!old && client.subscriptions.size >= MAX_SUBSCRIPTIONS) return error(`at most ${MAX_SUBSCRIPTIONS} subscriptions per connection`);
    const s = command.subscription;
    if (s.kind === 'metrics' && this.scheduler.listenerCount(s.key) === 0) {
      // A new distinct query; the one this subscription replaces is freed if it was its last listener.
      const freed = old?.kind === 'metrics' && this.scheduler.listenerCount(old.key) === 1 ? 1 : 0;
      if (this.metricQueries() - freed >= this.options.maxQueries) {
        return error(`at most ${this.options.maxQueries} distinct live queries on this agent (identical subscriptions share one)`);
      }
    }
    if (old) this.release(client, queryId, old);
    this.send(client, { type: 'subscribed', query_id: queryId });
    this.hold(client, queryId, s);
  }

  /** Adds a subscription (the query's last result, if any, is sent at once). */
  private hold(client: Client, queryId: string, s: Subscription): void {
    if (s.kind === 'exchanges') {
      const sub: ClientSubscription = { kind: 'exchanges', client, queryId };
      client.subscriptions.set(queryId, sub);
      this.exchangeSubscribers.add(sub);
      return;
    }
    const listener: QueryListener = {
      update: (json) => this.sendText(client, wrapData('realtime_update', queryId, json)),
      fail: (message) => this.send(client, { type: 'error', query_id: queryId, message }),
    };
    client.subscriptions.set(queryId, { kind: 'metrics', key: s.key, listener });
    this.scheduler.subscribe(s.key, { evaluate: () => this.evaluate(s.query, s.windowMs), refreshMs: REALTIME_REFRESH_MS }, listener);
  }

  private release(client: Client, queryId: string, s: ClientSubscription): void {
    client.subscriptions.delete(queryId);
    if (s.kind === 'exchanges') this.exchangeSubscribers.delete(s);
    else this.scheduler.unsubscribe(s.key, s.listener);
  }

  /** Distinct metric queries subscribed (the analytics snapshot is not one of them). */
  private metricQueries(): number {
    return this.scheduler.size - (this.scheduler.listenerCount(SNAPSHOT_KEY) > 0 ? 1 : 0);
  }

  /** One evaluation for every subscriber of a query: serialized once, captured strings escaped. */
  private evaluate(query: Parameters<typeof apiMetrics>[1], windowMs: number): string {
    return JSON.stringify(apiMetrics(this.store, query, windowMs), controlEscapingReplacer);
  }

  /** alert_triggered / alert_resolved to every client: few, and each one matters (no budget). */
  alert(event: AlertEvent): void {
    const text = JSON.stringify({ type: event.type, alert: event.alert }, controlEscapingReplacer);
    for (const c of this.clients) this.sendText(c, text);
  }

  /** new_metric to every /ws/{id} client, within the per-second budget. */
  private announce(series: Series): void {
    if (this.streamClients === 0 || !this.newMetrics.take()) return;
    const labels = Object.fromEntries(series.family.labels.map((name, i) => [name, series.labels[i]]));
    const text = JSON.stringify({ type: 'new_metric', data: { name: series.family.name, kind: series.family.kind, labels } }, controlEscapingReplacer);
    for (const c of this.clients) if (!c.analytics) this.sendText(c, text);
  }

  /** A client gone (closed, dropped as slow or flooding): its subscriptions go with it. */
  private remove(client: Client): void {
    if (!this.clients.delete(client)) return;
    for (const [queryId, s] of client.subscriptions) this.release(client, queryId, s);
    if (client.snapshot) this.scheduler.unsubscribe(SNAPSHOT_KEY, client.snapshot);
    else this.streamClients--;
  }

  /** Closes with a code and reason, terminates if the peer does not finish the close within a second. */
  private drop(client: Client, code: number, reason: string): void {
    client.ws.close(code, reason);
    setTimeout(() => client.ws.terminate(), 1000).unref();
    this.remove(client);
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
      return this.drop(client, 1013, `slow consumer: more than ${this.options.maxBufferedBytes} bytes waiting`);
    }
    ws.send(text);
  }
}

function refuse(socket: Duplex, r: Refusal): void {
  const extra = Object.entries(r.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${r.status} ${r.reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(r.message)}\r\n${extra}Connection: close\r\n\r\n${r.message}`);
}
