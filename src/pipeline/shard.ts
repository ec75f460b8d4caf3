/**
 * One shard of the engine: decodes batches, enriches each record once, runs
 * every processor over the batch, and keeps the resulting aggregates until
 * the engine asks for them. Runs inside a worker (shard-worker.ts), or on the
 * calling thread for tests and benchmarks.
 *
 *   batch --ExchangeCursor.nextRecord()--> exchange:  Enricher --> BatchGroups (by identity and bucket)
 *                                      `-> TCP event: TcpEnricher --> TcpGroups
 *         --> processor 1 .. k (process, processTcp) --> DeltaTable --drain()--> DeltaCell[]
 *
 * Processors run one after another over the whole batch, so each one's time
 * is measured per batch, not per event.
 */
import { performance } from 'node:perf_hooks';
import type { DeltaCell } from '../analytics/cells';
import { DEFAULT_DURATION_BUCKETS_SECONDS, withDurationBuckets } from '../analytics/families';
import type { SeriesBudgetLimits } from '../analytics/series-budget';
import { END_OF_BATCH, ExchangeCursor } from '../capture/decoder';
import { DeltaTable, emptyProcessorStats, type ProcessorStats } from './delta-table';
import { ExchangeOffsets as O, RECORD_TCP } from '../capture/abi';
import { CgroupPaths } from '../metadata/cgroup-paths';
import type { ClusterSnapshot } from '../metadata/cluster-snapshot';
import { WorkloadResolver } from '../metadata/workload-resolver';
import { BatchGroups, Enricher } from './exchange-event';
import { processorContext, type Processor, type ProcessorPlugin } from './processor';
import { RouteCache } from './route-cache';
import { TcpEnricher, TcpGroups } from './tcp-event';

export interface ShardOptions {
  /** Add to a CLOCK_MONOTONIC ms value to get Unix ms. */
  clockOffsetMs: number;
  /** The finest bucket, ms. */
  resolutionMs: number;
  routePatterns: readonly string[];
  /** Matches in routes become {redacted}. */
  redactPatterns: readonly string[];
  limits: SeriesBudgetLimits;
  /** Names of the families to keep. */
  enabledFamilies: readonly string[];
  /** The duration histogram's bounds (the engine's resolved option); default DEFAULT_DURATION_BUCKETS_SECONDS. */
  durationBucketsSeconds?: readonly number[];
  plugins: readonly ProcessorPlugin[];
  /** Name exchanges by workload (engine-options.ts); default false. */
  resolveWorkloads?: boolean;
}

export interface ShardStats {
  /** Records processed: exchanges and TCP events. */
  events: number;
  batches: number;
  /** Bytes at batch ends that did not form a record, and records of unknown type. */
  truncatedBytes: number;
  unknownRecords: number;
  processors: Record<string, ProcessorStats>;
}

const ROUTE_CACHE_ENTRIES = 8192;
const TWO_32 = 4294967296;
const MAX_IDENTITIES = 50_000;

export class Shard {
  private readonly table: DeltaTable;
  private readonly enricher: Enricher;
  private readonly workloads: WorkloadResolver | undefined;
  private readonly running: { processor: Processor; stats: ProcessorStats }[] = [];
  private readonly groups = new BatchGroups();
  private readonly tcpEnricher: TcpEnricher;
  private readonly tcpGroups = new TcpGroups();
  private readonly totals: ShardStats;
  private readonly clockOffsetMs: number;
  private readonly resolutionMs: number;

  constructor(options: ShardOptions) {
    const families = withDurationBuckets(
      options.plugins.flatMap((p) => p.families),
      options.durationBucketsSeconds ?? DEFAULT_DURATION_BUCKETS_SECONDS,
    );
    this.table = new DeltaTable(families, options.limits);
    const enabled = new Set(options.enabledFamilies);
    let slots = 0;
    const processors: Record<string, ProcessorStats> = {};
    for (const plugin of options.plugins) {
      const stats = emptyProcessorStats();
      processors[plugin.name] = stats;
      if (!plugin.families.some((f) => enabled.has(f.name))) continue; // nothing of it is wanted
      const processor = plugin.create(processorContext(plugin, this.table, enabled, stats, () => slots++));
      this.running.push({ processor, stats });
    }
    this.clockOffsetMs = options.clockOffsetMs;
    this.resolutionMs = options.resolutionMs;
    this.totals = { events: 0, batches: 0, truncatedBytes: 0, unknownRecords: 0, processors };
    this.workloads = options.resolveWorkloads ? new WorkloadResolver(new CgroupPaths()) : undefined;
    this.enricher = new Enricher({
      workloads: this.workloads,
      routes: new RouteCache(options.routePatterns, options.redactPatterns, ROUTE_CACHE_ENTRIES),
      clockOffsetMs: options.clockOffsetMs,
      resolutionMs: options.resolutionMs,
      maxIdentities: MAX_IDENTITIES,
    });
    this.tcpEnricher = new TcpEnricher({ workloads: this.workloads, maxIdentities: MAX_IDENTITIES });
  }

  /** Processes one batch of raw records; returns how many records (exchanges and TCP events) it held. The batch is not kept. */
  ingest(batch: Uint8Array): number {
    const cursor = new ExchangeCursor(batch);
    const view = cursor.view;
    const groups = this.groups;
    const enricher = this.enricher;
    const tcpGroups = this.tcpGroups;
    const clockOffsetMs = this.clockOffsetMs;
    const resolutionMs = this.resolutionMs;
    groups.begin();
    tcpGroups.begin();
    const batchNumber = groups.batch;
    let n = 0;
    let tcp = 0;
    // The fields are read here rather than through the cursor's getters: doubles stay unboxed in this loop.
    for (let type = cursor.nextRecord(); type !== END_OF_BATCH; type = cursor.nextRecord()) {
      if (type === RECORD_TCP) {
        tcp++;
        const timeMs = cursor.tcp.monotimeMs + clockOffsetMs;
        tcpGroups.add(this.tcpEnricher.identityOf(cursor.tcp), timeMs - (timeMs % resolutionMs), cursor.tcp);
        continue;
      }
      n++;
      const at = cursor.offset;
      const identity = enricher.identityOf(cursor);
      // As Enricher.bucketOf and the cursor's getters compute them, to the bit.
      const endMs = (view.getUint32(at + O.end_monotime_ns + 4, true) * TWO_32 + view.getUint32(at + O.end_monotime_ns, true)) / 1e6 + clockOffsetMs;
      const bucketMs = endMs - (endMs % resolutionMs);
      const hi = view.getUint32(at + O.end_monotime_ns + 4, true) - view.getUint32(at + O.start_monotime_ns + 4, true);
      const lo = view.getUint32(at + O.end_monotime_ns, true) - view.getUint32(at + O.start_monotime_ns, true);
      const requestBytes = view.getUint32(at + O.request_bytes + 4, true) * TWO_32 + view.getUint32(at + O.request_bytes, true);
      const responseBytes = view.getUint32(at + O.response_bytes + 4, true) * TWO_32 + view.getUint32(at + O.response_bytes, true);
      let g = identity.group;
      if (identity.groupBatch !== batchNumber || g === undefined || g.bucketMs !== bucketMs) g = groups.open(identity, bucketMs);
      const k = g.count++;
      if (k === g.durationsSeconds.length) groups.grow(g);
      g.durationsSeconds[k] = (hi * TWO_32 + lo) / 1e9;
      g.responseSizes[k] = responseBytes;
      g.requestBytes += requestBytes;
      g.responseBytes += responseBytes;
    }
    for (const r of this.running) {
      const p = r.processor;
      const start = performance.now();
      p.process(groups.groups, groups.count);
      if (tcp > 0 && p.processTcp) p.processTcp(tcpGroups.groups, tcpGroups.count);
      r.stats.timeNs += Math.round((performance.now() - start) * 1e6);
      r.stats.eventsIn += p.processTcp ? n + tcp : n;
    }
    this.totals.events += n + tcp;
    this.totals.batches++;
    this.totals.truncatedBytes += cursor.problems.truncatedBytes;
    this.totals.unknownRecords += cursor.problems.unknownRecords;
    return n + tcp;
  }

  /** What the node knows of the cluster now: identities made from here on carry it. */
  setCluster(snapshot: ClusterSnapshot): void {
    if (!this.workloads) return;
    this.workloads.setCluster(snapshot);
    this.enricher.forgetIdentities();
    this.tcpEnricher.forgetIdentities();
  }

  /** The aggregates since the last drain, as plain data for the store. */
  drain(): DeltaCell[] {
    return this.table.drain();
  }

  /** Totals since the shard started (a copy). */
  stats(): ShardStats {
    return structuredClone(this.totals);
  }
}
