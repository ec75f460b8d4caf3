/**
 * Delivers notifications to the targets, apart from evaluation: enqueue()
 * only files the notification in each target's queue and returns, so a
 * target that hangs or fails never slows the rules.
 *
 *   enqueue(n) ──route──> lane "am"      [queue ≤ maxQueue] ──one request at a time──> POST /api/v2/alerts
 *              ──route──> lane "ops"     [queue ≤ maxQueue] ──────────────────────────> POST webhook URL
 *              ──route──> lane "chat"    [queue ≤ maxQueue] ──────────────────────────> POST Slack URL
 *                             ↑ failure (non-2xx, network, timeout): the batch waits,
 *                               then goes again (backoff 1 s, 2 s, 4 s … 60 s, jittered)
 *
 * Routing: a notification goes to a target when its channels are empty or
 * name the target or its kind; repeats (a firing alert sent again so that
 * Alertmanager does not time it out) only to Alertmanager targets.
 *
 * What is kept, what may go:
 * - A resolve is never dropped to make room, nor given up on: it waits for
 *   the receiver however long it is down. (A memory guard, RESOLVE_CEILING
 *   times maxQueue resolves waiting for one target, drops the oldest resolve
 *   past it; counted in `dropped`.)
 * - A full queue drops its oldest firing or repeat entry, counted in `dropped`.
 * - Alertmanager keeps only the latest state of an alert, so for its targets
 *   a newer notification of a fingerprint replaces the one waiting (a
 *   firing then a resolve while it was down: only the resolve is sent),
 *   also one waiting in a failed batch. Its firing alerts are formatted
 *   again at each attempt, so endsAt is always 4 resend intervals ahead.
 * - Webhook and Slack receivers get every notification, and a failed batch
 *   is sent again byte for byte.
 * - Alertmanager answers 400 when it finds an alert invalid and keeps the
 *   valid ones of the request: sending it again cannot help, so that batch
 *   is not retried (counted in `failed`, the reason in lastError).
 *
 * Stats: `sent` and `failed` count notifications (a batch of 3 that failed
 * twice: failed 6), as Prometheus's notifier does.
 *
 * Ownership: a Notification belongs to the dispatcher from enqueue(); it is
 * only read, and may be shared by several lanes.
 */
import { formatterFor, requestUrl, type Formatter } from './format';
import { SLACK_BATCH_MAX } from './slack';
import { shownUrl } from './targets-config';
import type { Notification, TargetConfig, TargetStats } from '../types';

export interface DispatcherOptions {
  /** Unix ms; stamps stats and Alertmanager's endsAt. Default Date.now. */
  now?: () => number;
  /** The wait after a first failure; doubled after each one. Default 1000. */
  initialBackoffMs?: number;
  /** The longest wait between attempts. Default 60 000. */
  maxBackoffMs?: number;
  /** Notifications waiting per target before firing ones are dropped. Default 1000. */
  maxQueue?: number;
  /** Notifications per request. Default 64 (Slack: at most 20). */
  batchMax?: number;
  /** How often the alerting engine re-sends firing alerts; Alertmanager's endsAt is 4 of them ahead. Default 60 000. */
  resendIntervalMs?: number;
  /** How long shutdown() tries to deliver what is queued. Default 2000. */
  shutdownTimeoutMs?: number;
  fetch?: typeof fetch;
}

const DEFAULTS = { initialBackoffMs: 1000, maxBackoffMs: 60_000, maxQueue: 1000, batchMax: 64, resendIntervalMs: 60_000, shutdownTimeoutMs: 2000 };

/** Resolves waiting for one target, in units of maxQueue, past which the oldest goes (memory guard). */
export const RESOLVE_CEILING = 10;

/** What a failed response's body adds to lastError, at most. */
const ERROR_BODY_CHARS = 200;

interface Entry {
  n: Notification;
  prev?: Entry;
  next?: Entry;
}

/** A doubly linked list: O(1) removal anywhere (a superseded or evicted entry). */
class EntryList {
  head?: Entry;
  tail?: Entry;
  size = 0;
  firing = 0;

  push(e: Entry): void {
    e.prev = this.tail;
    e.next = undefined;
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
    this.count(e, 1);
  }

  unshift(e: Entry): void {
    e.next = this.head;
    e.prev = undefined;
    if (this.head) this.head.prev = e;
    else this.tail = e;
    this.head = e;
    this.count(e, 1);
  }

  remove(e: Entry): void {
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = undefined;
    this.count(e, -1);
  }

  /** The oldest entry that is not a resolve. */
  oldestFiring(): Entry | undefined {
    if (this.firing === 0) return undefined;
    let e = this.head;
    while (e && e.n.status === 'resolved') e = e.next;
    return e;
  }

  private count(e: Entry, by: 1 | -1): void {
    this.size += by;
    if (e.n.status !== 'resolved') this.firing += by;
  }
}

class ShutdownError extends Error {
  constructor() {
    super('shut down before the receiver answered');
    this.name = 'ShutdownError';
  }
}

class RequestTimeout extends Error {
  constructor(ms: number) {
    super(`timeout after ${ms} ms`);
    this.name = 'RequestTimeout';
  }
}

type Outcome = 'sent' | 'retry' | 'rejected';

class Lane {
  readonly stats: TargetStats;
  private readonly queue = new EntryList();
  /** Alertmanager only: the waiting entry of each fingerprint. */
  private readonly byFingerprint = new Map<string, Entry>();
  private readonly format: Formatter;
  private readonly batchMax: number;
  /** The batch being sent or waiting to be sent again; body fixed for webhook and Slack. */
  private batch: { notifications: Notification[]; body?: string; url?: string } | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private attempt: Promise<Outcome> | undefined;
  private stopping = false;

  constructor(
    readonly target: TargetConfig,
    private readonly o: Required<Omit<DispatcherOptions, 'fetch'>> & { fetch: typeof fetch },
    private readonly stopSignal: AbortSignal,
  ) {
    this.stats = { name: target.name, kind: target.kind, url: shownUrl(target), sent: 0, failed: 0, queued: 0, dropped: 0 };
    this.format = formatterFor(target.kind, o.resendIntervalMs);
    this.batchMax = Math.max(1, target.kind === 'slack' ? Math.min(o.batchMax, SLACK_BATCH_MAX) : o.batchMax);
  }

  get supersedes(): boolean {
    return this.target.kind === 'alertmanager';
  }

  routes(n: Notification): boolean {
    if (n.repeat && this.target.kind !== 'alertmanager') return false;
    return n.channels.length === 0 || n.channels.includes(this.target.name) || n.channels.includes(this.target.kind);
  }

  add(n: Notification): void {
    if (this.supersedes) {
      const older = this.byFingerprint.get(n.fingerprint);
      if (older) this.queue.remove(older);
    }
    if (this.queue.size >= this.o.maxQueue) {
      const victim = this.queue.oldestFiring();
      if (victim) this.drop(victim);
      else if (n.status !== 'resolved') {
        this.stats.dropped++; // only resolves wait: the newest firing is the oldest firing
        this.refreshQueued();
        return;
      } else if (this.queue.size >= this.o.maxQueue * RESOLVE_CEILING && this.queue.head) this.drop(this.queue.head);
    }
    const entry: Entry = { n };
    this.queue.push(entry);
    if (this.supersedes) this.byFingerprint.set(n.fingerprint, entry);
    this.refreshQueued();
  }

  /** Sends when idle (on the next turn of the event loop, so that what is enqueued together goes together). */
  kick(): void {
    if (this.scheduled || this.attempt || this.timer || this.stopping) return;
    if (!this.batch && this.queue.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.attempt || this.stopping) return;
    const outcome = await this.tryOnce();
    if (this.stopping) return;
    if (outcome === 'retry') {
      const base = Math.min(this.o.maxBackoffMs, this.o.initialBackoffMs * 2 ** Math.min(this.failures - 1, 30));
      const delay = base / 2 + (Math.random() * base) / 2;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, delay);
      this.timer.unref();
    } else this.kick();
  }

  /** Shutdown: no more timers; the request in flight finishes; then one attempt per batch while they succeed and time remains. */
  async flush(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.attempt) await this.attempt;
    while ((this.batch || this.queue.size > 0) && !this.stopSignal.aborted) {
      if ((await this.tryOnce()) === 'retry') break;
    }
  }

  private tryOnce(): Promise<Outcome> {
    const attempt = this.send().finally(() => {
      this.attempt = undefined;
      this.refreshQueued();
    });
    this.attempt = attempt;
    return attempt;
  }

  private async send(): Promise<Outcome> {
    if (!this.batch) {
      const notifications = this.take();
      if (notifications.length === 0) return 'sent'; // nothing waited: no request
      this.batch = { notifications };
    }
    const batch = this.batch;
    const count = batch.notifications.length;
    let outcome: Outcome;
    // Its own controller (a timeout or the shutdown aborts it); the listener on the long-lived stop signal goes after each request.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new RequestTimeout(this.target.timeoutMs)), this.target.timeoutMs);
    const onStop = () => controller.abort(new ShutdownError());
    if (this.stopSignal.aborted) onStop();
    else this.stopSignal.addEventListener('abort', onStop, { once: true });
    try {
      // Alertmanager: formatted at each attempt (endsAt moves on); the others: once, then sent as they were.
      if (batch.body === undefined || this.supersedes) {
        const formatted = this.format(batch.notifications, this.o.now());
        batch.url = requestUrl(this.target.url, formatted.suffix);
        batch.body = JSON.stringify(formatted.body);
      }
      const response = await this.o.fetch(batch.url!, {
        method: 'POST',
        headers: { ...this.target.headers, 'content-type': 'application/json' },
        body: batch.body,
        signal: controller.signal,
      });
      if (response.ok) {
        await response.body?.cancel().catch(() => undefined);
        outcome = 'sent';
      } else {
        const text = await response.text().catch(() => '');
        const snippet = text.replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
        this.failed(count, `HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`);
        outcome = response.status === 400 && this.target.kind === 'alertmanager' ? 'rejected' : 'retry';
      }
    } catch (e) {
      this.failed(count, this.describe(controller.signal.aborted ? controller.signal.reason : e));
      outcome = 'retry';
    } finally {
      clearTimeout(timer);
      this.stopSignal.removeEventListener('abort', onStop);
    }
    if (outcome === 'sent') {
      this.stats.sent += count;
      this.stats.lastSuccessAt = this.o.now();
      this.failures = 0;
      this.batch = undefined;
    } else if (outcome === 'rejected') {
      this.failures = 0;
      this.batch = undefined;
    } else {
      this.failures++;
      if (this.supersedes) this.requeue(batch.notifications);
    }
    return outcome;
  }

  private take(): Notification[] {
    const out: Notification[] = [];
    while (out.length < this.batchMax && this.queue.head) {
      const e = this.queue.head;
      this.queue.remove(e);
      if (this.supersedes) this.byFingerprint.delete(e.n.fingerprint);
      out.push(e.n);
    }
    return out;
  }

  /** Alertmanager: a failed batch goes back to the front of the queue, less what newer notifications replaced; the next attempt takes a fresh batch. */
  private requeue(notifications: Notification[]): void {
    this.batch = undefined;
    for (let i = notifications.length - 1; i >= 0; i--) {
      const n = notifications[i];
      if (this.byFingerprint.has(n.fingerprint)) continue;
      const entry: Entry = { n };
      this.queue.unshift(entry);
      this.byFingerprint.set(n.fingerprint, entry);
    }
    while (this.queue.size > this.o.maxQueue) {
      const victim = this.queue.oldestFiring();
      if (!victim) break;
      this.drop(victim);
    }
  }

  private drop(e: Entry): void {
    this.queue.remove(e);
    if (this.supersedes && this.byFingerprint.get(e.n.fingerprint) === e) this.byFingerprint.delete(e.n.fingerprint);
    this.stats.dropped++;
  }

  private failed(count: number, reason: string): void {
    this.stats.failed += count;
    this.stats.lastError = reason;
    this.stats.lastErrorAt = this.o.now();
  }

  private describe(e: unknown): string {
    const err = e as Error & { cause?: unknown };
    if (err instanceof RequestTimeout || err instanceof ShutdownError) return err.message;
    // fetch: TypeError("fetch failed") with the socket's error as the cause.
    const cause = err?.cause as (Error & { code?: string; errors?: Error[] }) | undefined;
    if (cause) {
      if (cause.message) return cause.message;
      if (cause.errors?.length) return cause.errors.map((x) => x.message).join('; ');
      if (cause.code) return cause.code;
    }
    return err?.message ?? String(e);
  }

  refreshQueued(): void {
    this.stats.queued = this.queue.size + (this.batch?.notifications.length ?? 0);
  }
}

export class Dispatcher {
  readonly name = 'notifications';
  private readonly lanes: Lane[];
  private readonly stop = new AbortController();
  private started = false;
  private stopped: Promise<void> | undefined;
  private readonly shutdownTimeoutMs: number;
  private readonly now: () => number;

  constructor(targets: TargetConfig[], options: DispatcherOptions = {}) {
    const o = {
      now: options.now ?? Date.now,
      initialBackoffMs: options.initialBackoffMs ?? DEFAULTS.initialBackoffMs,
      maxBackoffMs: options.maxBackoffMs ?? DEFAULTS.maxBackoffMs,
      maxQueue: Math.max(1, options.maxQueue ?? DEFAULTS.maxQueue),
      batchMax: options.batchMax ?? DEFAULTS.batchMax,
      resendIntervalMs: options.resendIntervalMs ?? DEFAULTS.resendIntervalMs,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs,
      fetch: options.fetch ?? globalThis.fetch,
    };
    this.shutdownTimeoutMs = o.shutdownTimeoutMs;
    this.now = o.now;
    this.lanes = targets.map((t) => new Lane(t, o, this.stop.signal));
  }

  /** Files n with every target it routes to; sends later. Synchronous, never throws; ignored after shutdown. */
  enqueue(n: Notification): void {
    if (this.stopped) return;
    for (const lane of this.lanes) {
      try {
        if (!lane.routes(n)) continue;
        lane.add(n);
        if (this.started) lane.kick();
      } catch (e) {
        lane.stats.lastError = `enqueue: ${(e as Error).message}`;
        lane.stats.lastErrorAt = this.now();
      }
    }
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const lane of this.lanes) lane.kick();
  }

  /**
   * Stops sending: the requests in flight finish, then what is queued gets
   * one more attempt, all within shutdownTimeoutMs; then requests are
   * aborted. Idempotent; safe without start().
   */
  shutdown(): Promise<void> {
    return (this.stopped ??= this.flush());
  }

  private async flush(): Promise<void> {
    const deadline = setTimeout(() => this.stop.abort(new ShutdownError()), this.shutdownTimeoutMs);
    try {
      await Promise.all(this.lanes.map((l) => l.flush()));
    } finally {
      clearTimeout(deadline);
      this.stop.abort(new ShutdownError());
    }
  }

  /** One row per target, fresh objects. */
  stats(): TargetStats[] {
    return this.lanes.map((l) => {
      l.refreshQueued();
      return { ...l.stats };
    });
  }
}
