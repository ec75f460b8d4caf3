/**
 * The analytics engine: shards in worker threads, and the store they feed.
 *
 *   capture or replay (this thread)
 *     --ingest(batch)--> least-loaded shard's queue (bounded: bufferSize records;
 *                        full → the batch is dropped and counted, the caller never waits)
 *     --enqueue(batch)--> the same, but a batch that finds no room waits (in order)
 *                        until a shard acknowledges enough: back-pressure on the source
 *     --worker--> decode, processors, aggregates
 *     --every publishInterval (1 s) or sync()--> DeltaCell[] --> MetricStore (this thread)
 *     --every flushInterval--> expiry of old buckets and idle series
 *
 * Batches are copied once into a transferable buffer: the addon's buffers
 * cannot move between threads, and one copy per batch costs far less than
 * moving the capture into a worker.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { formatDuration } from '../analytics/duration';
import { withDurationBuckets } from '../analytics/families';
import { MetricStore, RESOLUTION_MS } from '../analytics/store';
import { TracerError } from '../errors';
import type { ClusterSnapshot } from '../metadata/cluster-snapshot';
import { packageRoot } from '../package-root';
import { emptyProcessorStats, type ProcessorStats } from './delta-table';
import { resolveEngineOptions, type EngineOptions, type ResolvedEngineOptions } from './engine-options';
import { loadPlugins } from './plugins';
import type { ShardStats } from './shard';
import type { FromShard, ShardWorkerData, ToShard } from './shard-protocol';

/** The compiled worker, whether this module runs from dist/, dist-bench/, or (in tests) from src/ through ts-node. */
const WORKER_SCRIPT = path.join(packageRoot(__dirname), 'dist', 'pipeline', 'shard-worker.js');

interface ShardHandle {
  worker: Worker;
  /** False once the worker has exited: it gets no more batches. */
  alive: boolean;
  /** Records posted and not yet acknowledged. */
  queued: number;
  stats: ShardStats | undefined;
}

export interface EngineStats {
  status: 'running' | 'degraded' | 'stopped';
  workerThreads: number;
  /** Records waiting in shard queues, and what the queues can hold. */
  bufferSize: number;
  bufferCapacity: number;
  /** Records given to ingest()/enqueue(), and processed: exchanges and TCP events. */
  eventsIn: number;
  eventsProcessed: number;
  droppedBatches: number;
  droppedEvents: number;
  /** Batch bytes that did not form a record, and records of unknown type. */
  truncatedBytes: number;
  unknownRecords: number;
  processors: Record<string, ProcessorStats>;
  failures: string[];
  /** Shard workers still running (one that exited takes no more batches). */
  workersAlive: number;
}

export class Engine {
  readonly store: MetricStore;
  readonly options: ResolvedEngineOptions;
  private readonly shards: ShardHandle[];
  private readonly processorNames: string[];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pendingDrains = new Map<number, { waiting: Set<ShardHandle>; resolve: () => void }>();
  /** Batches given to enqueue() that wait for room, oldest first. */
  private backlog: { batch: Uint8Array; records: number; resolve: (queued: boolean) => void }[] = [];
  private nextDrainId = 0;
  private eventsIn = 0;
  private droppedBatches = 0;
  private droppedEvents = 0;
  private readonly failures: string[] = [];
  private stopped: Promise<void> | undefined;

  private constructor(options: ResolvedEngineOptions, store: MetricStore, shards: ShardHandle[], processorNames: string[]) {
    this.options = options;
    this.store = store;
    this.shards = shards;
    this.processorNames = processorNames;
  }

  /** `sources` names where options came from (configuration keys, variables), for error messages. */
  static async start(input: EngineOptions, sources: Record<string, string> = {}): Promise<Engine> {
    const plugins = loadPlugins(input.processorModules ?? []);
    const options = resolveEngineOptions(input, plugins.flatMap((p) => p.families), sources);
    // The shards apply the same buckets (shard.ts): their cells and the store's totals have the same bounds.
    const families = withDurationBuckets(plugins.flatMap((p) => p.families), options.durationBucketsSeconds);
    const store = new MetricStore({ families, retentionMs: options.retentionMs, limits: options.seriesLimits, now: options.now });
    for (const [i, w] of options.windowSizesMs.entries()) {
      const problem = store.windowProblem(w);
      if (problem) throw new TracerError('HT_ERR_OPTION', `${sources.windowSizesMs ?? 'windowSizesMs'}[${i}]: ${formatDuration(w)} ${problem}`);
    }
    const data: ShardWorkerData = {
      clockOffsetMs: options.clockOffsetMs,
      resolutionMs: RESOLUTION_MS,
      routePatterns: options.routePatterns,
      redactPatterns: options.redactPatterns,
      limits: options.seriesLimits,
      enabledFamilies: options.enabledFamilies,
      durationBucketsSeconds: options.durationBucketsSeconds,
      processorModules: options.processorModules.map((m) => path.resolve(m)),
      resolveWorkloads: options.resolveWorkloads,
    };
    const shards = await Promise.all(Array.from({ length: options.workerThreads }, () => startShard(data)));
    const engine = new Engine(options, store, shards, plugins.map((p) => p.name));
    for (const shard of shards) {
      shard.worker.on('message', (m: FromShard) => engine.onShardMessage(shard, m));
      shard.worker.on('error', (e) => engine.failed(`shard worker: ${e.stack ?? e.message}`));
      shard.worker.on('exit', (code) => engine.shardExited(shard, code));
    }
    engine.timers.push(setInterval(() => void engine.sync(), options.publishIntervalMs).unref());
    engine.timers.push(setInterval(() => store.expire(), options.flushIntervalMs).unref());
    return engine;
  }

  /**
   * Queues a batch of raw records for the least-loaded shard. The batch is
   * copied; the caller keeps it. False when every queue was too full and the
   * batch was dropped (counted in stats()).
   */
  ingest(batch: Uint8Array, records: number): boolean {
    if (this.stopped) return false;
    this.eventsIn += records;
    const target = this.leastLoaded();
    if (!target || !this.hasRoom(target, records)) {
      this.dropped(records);
      return false;
    }
    const bytes = new Uint8Array(batch); // a copy with a buffer of its own, transferable
    target.queued += records;
    const message: ToShard = { type: 'batch', bytes, records };
    target.worker.postMessage(message, [bytes.buffer]);
    return true;
  }

  /**
   * For sources that can wait (live capture with back-pressure, replay, benchmarks): queues the
   * batch as soon as a shard has room, after batches already waiting, and
   * resolves then with what ingest() returned. The caller keeps `batch`
   * unchanged until it resolves. stop() drops and counts what still waits.
   */
  enqueue(batch: Uint8Array, records: number): Promise<boolean> {
    const target = this.leastLoaded();
    if (this.backlog.length === 0 && (!target || this.hasRoom(target, records))) return Promise.resolve(this.ingest(batch, records));
    return new Promise((resolve) => this.backlog.push({ batch, records, resolve }));
  }

  private dropped(records: number): void {
    this.droppedBatches++;
    this.droppedEvents += records;
  }

  private leastLoaded(): ShardHandle | undefined {
    let target: ShardHandle | undefined;
    for (const s of this.shards) if (s.alive && (!target || s.queued < target.queued)) target = s;
    return target;
  }

  /** An empty queue takes any batch, so a batch larger than the buffer is not dropped forever. */
  private hasRoom(shard: ShardHandle, records: number): boolean {
    return shard.queued === 0 || shard.queued + records <= this.options.bufferSize;
  }

  /** Sends every shard what the node knows of the cluster (src/metadata/); exchanges processed after it carry it. */
  setCluster(snapshot: ClusterSnapshot): void {
    const message: ToShard = { type: 'cluster', snapshot };
    for (const s of this.shards) if (s.alive) s.worker.postMessage(message);
  }

  /** Resolves once every shard has handed the store all it processed from batches queued before the call. */
  sync(): Promise<void> {
    const alive = this.shards.filter((s) => s.alive);
    if (alive.length === 0) return Promise.resolve();
    const id = this.nextDrainId++;
    return new Promise((resolve) => {
      this.pendingDrains.set(id, { waiting: new Set(alive), resolve });
      const message: ToShard = { type: 'drain', id };
      for (const s of alive) s.worker.postMessage(message);
    });
  }

  stats(): EngineStats {
    const processors: Record<string, ProcessorStats> = {};
    for (const name of this.processorNames) processors[name] = emptyProcessorStats();
    let eventsProcessed = 0;
    let truncatedBytes = 0;
    let unknownRecords = 0;
    for (const s of this.shards) {
      if (!s.stats) continue;
      eventsProcessed += s.stats.events;
      truncatedBytes += s.stats.truncatedBytes;
      unknownRecords += s.stats.unknownRecords;
      for (const [name, p] of Object.entries(s.stats.processors)) {
        const sum = processors[name];
        sum.eventsIn += p.eventsIn;
        sum.writes += p.writes;
        sum.folded += p.folded;
        sum.timeNs += p.timeNs;
      }
    }
    return {
      status: this.stopped ? 'stopped' : this.failures.length > 0 ? 'degraded' : 'running',
      workerThreads: this.shards.length,
      bufferSize: this.shards.reduce((n, s) => n + s.queued, 0),
      bufferCapacity: this.options.bufferSize * this.shards.length,
      eventsIn: this.eventsIn,
      eventsProcessed,
      droppedBatches: this.droppedBatches,
      droppedEvents: this.droppedEvents,
      truncatedBytes,
      unknownRecords,
      processors,
      failures: [...this.failures],
      workersAlive: this.shards.filter((s) => s.alive).length,
    };
  }

  /** Publishes what the shards hold, stops them. Idempotent; safe to call twice. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      for (const b of this.backlog.splice(0)) {
        this.eventsIn += b.records;
        this.dropped(b.records);
        b.resolve(false);
      }
      await this.sync();
      this.store.expire();
      await Promise.all(this.shards.map((s) => s.worker.terminate()));
    })();
    return this.stopped;
  }

  private failed(message: string): void {
    if (this.failures.length < 100) this.failures.push(message);
  }

  /** A shard that exits answers no drain: pending syncs stop waiting for it. */
  private shardExited(shard: ShardHandle, code: number): void {
    shard.alive = false;
    shard.queued = 0;
    this.roomMade();
    if (!this.stopped) this.failed(`shard worker exited with code ${code}`);
    for (const id of this.pendingDrains.keys()) this.answered(id, shard);
  }

  /** Queues waiting batches, oldest first, while they fit. */
  private roomMade(): void {
    while (this.backlog.length > 0) {
      const target = this.leastLoaded();
      if (target && !this.hasRoom(target, this.backlog[0].records)) break;
      const b = this.backlog.shift()!;
      b.resolve(this.ingest(b.batch, b.records));
    }
  }

  private answered(drainId: number, shard: ShardHandle): void {
    const pending = this.pendingDrains.get(drainId);
    if (!pending?.waiting.delete(shard) || pending.waiting.size > 0) return;
    this.pendingDrains.delete(drainId);
    pending.resolve();
  }

  private onShardMessage(shard: ShardHandle, m: FromShard): void {
    if (m.type === 'ack') {
      shard.queued -= m.records;
      this.roomMade();
    } else if (m.type === 'delta') {
      this.store.ingest(m.cells);
      shard.stats = m.stats;
      this.answered(m.id, shard);
    } else if (m.type === 'failed') {
      this.failed(m.message);
    }
  }
}

function startShard(data: ShardWorkerData): Promise<ShardHandle> {
  return new Promise((resolve, reject) => {
    // execArgv: [] so that loaders the parent runs under (ts-node in tests) are not booted again per worker.
    const worker = new Worker(WORKER_SCRIPT, { workerData: data, execArgv: [] });
    const onMessage = (m: FromShard): void => {
      worker.off('message', onMessage);
      worker.off('error', reject);
      if (m.type === 'ready') resolve({ worker, alive: true, queued: 0, stats: undefined });
      else {
        void worker.terminate();
        reject(new TracerError('HT_ERR_OPTION', m.type === 'failed' ? m.message : `shard worker: unexpected ${m.type}`));
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}
