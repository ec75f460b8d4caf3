/**
 * Forwarding: every interval, the rollup of the store's totals (every
 * exported series' cumulative value, collect.ts) is encoded once per target
 * and appended to that target's disk queue; a sender per target drains its
 * queue in order, one request at a time.
 *
 *   store --every interval_seconds--> collectRollup --> encode (remote-write: snappy WriteRequests;
 *                                                               OTLP: ExportMetricsServiceRequest)
 *     --> DiskQueue <data_dir>/forward/<target>/ (append-only, checksummed, bounded: oldest dropped)
 *     --> sender: POST; 2xx → ack; 429, 5xx, network → the same record again after a jittered backoff;
 *                 other 4xx → counted as failed, its message kept, the record acked (sending it again cannot help)
 *
 * Nothing is lost to a receiver that is down, nor to a restart: unsent
 * records are sent first, in order, when the agent starts again (a record
 * sent but not yet acknowledged when the agent died is sent again: the same
 * samples at the same timestamps, which a store keeps once). Only a full
 * queue loses data, oldest first, counted.
 *
 * A queue record is one request body; its weight (disk-queue.ts) is its
 * samples, so that what was sent, failed or dropped is counted in samples.
 *
 * Failures are logged once per change (src/log/change-log.ts): a target that
 * starts failing, or fails otherwise, is one warning; its first success after
 * that one line more; a rollup that cannot be queued likewise. Retries are
 * never logged one by one.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ChangeLog } from '../log/change-log';
import type { Log } from '../log/logger';
import { DiskQueue, type QueuedRecord } from './disk-queue';
import type { ForwardingConfig, ForwardKind, ForwardTarget } from './forwarding-config';
import { backoffMs, sendOnce, type HttpTarget } from './http-sender';
import { encodeOtlp, type OtlpResource } from './otlp/encode';
import { OTLP_REQUEST_HEADERS, otlpMetricsUrl } from './otlp/http';
import { encodeWriteRequests } from './remote-write/encode';
import { REMOTE_WRITE_HEADERS } from './remote-write/target';
import type { Rollup } from './rollup';

export interface ForwardTargetStats {
  name: string;
  kind: ForwardKind;
  /** Origin and path, no credentials. */
  url: string;
  samplesSent: number;
  /** Refused by the target for good (a 4xx other than 429). */
  samplesFailed: number;
  /** Sent again after a retryable failure. */
  samplesRetried: number;
  /** Lost from a full queue (oldest first). */
  samplesDropped: number;
  queueBytes: number;
  queueRecords: number;
  /** Age of the oldest unsent rollup, seconds; 0 when the queue is empty. */
  oldestSeconds: number;
  lastSuccessAt?: number;
  lastErrorAt?: number;
  lastError?: string;
  /** Since when every attempt has failed; undefined while the target takes what it is sent. */
  failingSince?: number;
}

export interface ForwarderStats {
  flushes: number;
  /** How long the latest rollup took to collect, encode and queue. */
  lastFlushMs: number;
  /** The instant of the latest rollup (its samples' timestamp), Unix ms; undefined before the first. */
  lastFlushAt?: number;
  flushErrors: number;
  /** Why the latest flush failed; undefined once one succeeds again. */
  lastFlushError?: string;
  targets: ForwardTargetStats[];
}

export interface ForwarderDeps {
  config: ForwardingConfig;
  /** The target queues live under <dataDir>/forward/. */
  dataDir: string;
  /** The rollup at an instant (collect.ts on the store). */
  collect: (nowMs: number) => Rollup;
  /** Resource attributes for OTLP: host.name, service.name, service.version. */
  resource: OtlpResource;
  now?: () => number;
  /** Where failures and recoveries are logged; default nowhere. */
  log?: Log;
}

/** A target's failure as logged: the condition that must change for a new line, and the words. */
interface Failure {
  condition: string;
  message: string;
}

function shownUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname === '/' ? '' : u.pathname}`;
}

class Lane {
  readonly target: ForwardTarget;
  readonly queue: DiskQueue;
  readonly stats: Omit<ForwardTargetStats, 'queueBytes' | 'queueRecords' | 'oldestSeconds' | 'samplesDropped'>;
  private readonly http: HttpTarget;
  private readonly protocolHeaders: Readonly<Record<string, string>>;
  /** Resolves the sender's wait when a record is appended (or on shutdown). */
  private wake: (() => void) | undefined;
  private attempt = 0;
  private running = true;
  private readonly loop: Promise<void>;
  private readonly now: () => number;
  private readonly failures: ChangeLog<Failure>;

  constructor(target: ForwardTarget, queue: DiskQueue, now: () => number, failures: ChangeLog<Failure>) {
    this.target = target;
    this.queue = queue;
    this.now = now;
    this.failures = failures;
    this.stats = { name: target.name, kind: target.kind, url: shownUrl(target.url), samplesSent: 0, samplesFailed: 0, samplesRetried: 0 };
    const otlp = target.kind === 'otlp';
    this.http = { url: otlp ? otlpMetricsUrl(target.url) : target.url, headers: target.headers, ca: target.ca, timeoutMs: target.timeoutMs };
    this.protocolHeaders = otlp ? OTLP_REQUEST_HEADERS : REMOTE_WRITE_HEADERS;
    this.loop = this.run();
  }

  append(body: Buffer, samples: number): void {
    this.queue.append(body, samples);
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      const [record] = this.queue.peek(1);
      if (!record) {
        await this.sleep(60_000);
        continue;
      }
      const wait = await this.send(record);
      if (wait > 0 && this.running) await this.sleepUninterrupted(wait);
    }
  }

  /** A backoff that an append does not cut short (only shutdown does). */
  private async sleepUninterrupted(ms: number): Promise<void> {
    const until = this.now() + ms;
    while (this.running && this.now() < until) await this.sleep(until - this.now());
  }

  /** Sends one record; the wait before the next attempt (0: go on). */
  private async send(record: QueuedRecord): Promise<number> {
    const samples = record.weight;
    const r = await sendOnce(this.http, record.data, { ...this.protocolHeaders });
    // Stopped while it was in flight: the queue is closed; unacknowledged, it goes again at the next start.
    if (!this.running) return 0;
    const at = this.now();
    if (r.ok) {
      this.queue.ack(record.seq);
      this.stats.samplesSent += samples;
      this.stats.lastSuccessAt = at;
      this.stats.failingSince = undefined;
      this.attempt = 0;
      this.failures.set(this.target.name, undefined);
      return 0;
    }
    this.failures.set(this.target.name, {
      // The same status (or kind of failure) is the same failure, whatever its body says this time.
      condition: r.status ? `HTTP ${r.status}` : (r.failure ?? 'failed'),
      message: r.retryable ? `${r.message} (retrying)` : `${r.message} (refused for good: dropped)`,
    });
    this.stats.lastError = r.message;
    this.stats.lastErrorAt = at;
    this.stats.failingSince ??= at;
    if (!r.retryable) {
      // Sending it again cannot help (the target refused its content): counted, and the next one goes.
      this.queue.ack(record.seq);
      this.stats.samplesFailed += samples;
      this.attempt = 0;
      return 0;
    }
    this.stats.samplesRetried += samples;
    return Math.max(backoffMs(this.attempt++), r.retryAfterMs ?? 0);
  }

  snapshot(now: number): ForwardTargetStats {
    const q = this.queue.stats();
    return {
      ...this.stats,
      samplesDropped: q.droppedWeight,
      queueBytes: q.bytes,
      queueRecords: q.records,
      oldestSeconds: q.oldestAppendedAt === undefined ? 0 : Math.max(0, (now - q.oldestAppendedAt) / 1000),
    };
  }

  async stop(deadlineMs: number): Promise<void> {
    // One last chance for what is queued, then the rest waits on disk for the next start.
    while (this.queue.stats().records > 0 && this.now() < deadlineMs && this.attempt === 0) await new Promise((r) => setTimeout(r, 50));
    this.running = false;
    this.wake?.();
    // A request still in flight (a hanging target) is not waited for past the deadline.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadlineMs - this.now()))))]);
    clearTimeout(timer);
    this.queue.close();
  }
}

export class Forwarder {
  readonly name = 'forwarding';
  private readonly deps: ForwarderDeps;
  private readonly now: () => number;
  private lanes: Lane[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped: Promise<void> | undefined;
  private flushes = 0;
  private lastFlushMs = 0;
  private lastFlushAt: number | undefined;
  private flushErrors = 0;
  private lastFlushError: string | undefined;
  /** Per target name, and "" for the rollup's own flush: the failure now, logged when it changes. */
  private readonly failures: ChangeLog<Failure>;

  constructor(deps: ForwarderDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    const log = deps.log;
    this.failures = new ChangeLog<Failure>({
      changed: (target, { message }) =>
        target === '' ? log?.error({ error: message }, `forwarding: the rollup could not be queued: ${message}`) : log?.warn({ target, error: message }, `forwarding to ${target} failing: ${message}`),
      cleared: (target) => (target === '' ? log?.info('forwarding: rollups are queued again') : log?.info({ target }, `forwarding to ${target} works again`)),
      same: (a, b) => a.condition === b.condition,
    });
  }

  /** Opens every target's queue (HT_ERR_DATA_DIR when it cannot be) and starts sending what a previous run left. */
  start(): void {
    for (const target of this.deps.config.targets) {
      const queue = DiskQueue.open(path.join(this.deps.dataDir, 'forward', target.name), { maxBytes: target.queueBytes, now: this.now });
      this.lanes.push(new Lane(target, queue, this.now, this.failures));
    }
    this.timer = setInterval(() => this.flushSafely(), this.deps.config.intervalMs).unref();
  }

  /** A flush that cannot take the agent down (a full disk, a bug in an encoder): counted, the next one tries again. */
  private flushSafely(): void {
    try {
      this.flush();
      this.lastFlushError = undefined;
    } catch (e) {
      this.flushErrors++;
      this.lastFlushError = (e as Error).message;
    }
    this.failures.set('', this.lastFlushError === undefined ? undefined : { condition: this.lastFlushError, message: this.lastFlushError });
  }

  /** One rollup into every target's queue. */
  flush(nowMs = this.now()): void {
    const started = performance.now();
    const rollup = this.deps.collect(nowMs);
    for (const lane of this.lanes) {
      if (lane.target.kind === 'remote_write') {
        for (const { body, samples } of encodeWriteRequests(rollup, { externalLabels: this.deps.config.externalLabels, maxSamplesPerRequest: lane.target.batchSamples })) lane.append(body, samples);
      } else if (rollup.series.length > 0) {
        lane.append(encodeOtlp(rollup, { ...this.deps.config.externalLabels, ...this.deps.resource }), rollup.series.length);
      }
    }
    this.flushes++;
    this.lastFlushAt = nowMs;
    this.lastFlushMs = performance.now() - started;
  }

  stats(): ForwarderStats {
    const now = this.now();
    return { flushes: this.flushes, lastFlushMs: this.lastFlushMs, lastFlushAt: this.lastFlushAt, flushErrors: this.flushErrors, lastFlushError: this.lastFlushError, targets: this.lanes.map((l) => l.snapshot(now)) };
  }

  /** A last rollup (the counts up to now), a short chance to send it, then the queues close; idempotent. */
  shutdown(): Promise<void> {
    return (this.stopped ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      if (this.lanes.length === 0) return;
      this.flushSafely();
      const deadline = this.now() + 2000;
      await Promise.all(this.lanes.map((l) => l.stop(deadline)));
    })());
  }
}
