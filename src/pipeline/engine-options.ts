/**
 * The engine's options, validated in one place: every problem names the
 * option, the value and the reason. Names follow the seed's configuration
 * (analytics.buffer_size → bufferSize, …) with units in the names.
 */
import { DEFAULT_DURATION_BUCKETS_SECONDS, familiesFor, MAX_DURATION_BUCKETS, type MetricFamily } from '../analytics/families';
import { FoldPlan } from '../analytics/fold-plan';
import { RoutePattern } from '../analytics/route';
import { DEFAULT_SERIES_LIMITS, type SeriesBudgetLimits } from '../analytics/series-budget';
import { availableParallelism } from 'node:os';
import { compileRedactPatterns } from '../capture/redact';
import { ascendingBounds, fail as failAt, integerIn, strings as stringsAt } from '../config/validate';

export interface EngineOptions {
  /**
   * Shards, each a worker thread, or "auto" (the default): min(4, cores − 1), at least 1 — what the
   * node can give while the main thread keeps a core (autoWorkerThreads). An explicit number wins.
   */
  workerThreads?: number | typeof AUTO;
  /** Records queued per shard before batches are dropped (and counted). Default 10 000. */
  bufferSize?: number;
  /** How often the store expires old buckets and idle series. Default 10 s. */
  flushIntervalMs?: number;
  /** How often shards hand their aggregates to the store (the live path). Default 1 s. */
  publishIntervalMs?: number;
  /** The windows the API offers by default. Default 1m, 5m, 15m, 1h, 24h. */
  windowSizesMs?: number[];
  /** Default 24 h. */
  retentionMs?: number;
  /** The seed's enabled_metrics; default all. */
  enabledMetrics?: string[];
  /** User route patterns ("/orders/:id"), tried before the automatic templating. */
  routePatterns?: string[];
  /** Regular expressions: their matches in routes become {redacted} (secrets in path segments). */
  redactPatterns?: string[];
  /**
   * Upper bounds of the duration histogram's fixed buckets (what /metrics, remote-write and OTLP export), seconds,
   * ascending, at most MAX_DURATION_BUCKETS. Default DEFAULT_DURATION_BUCKETS_SECONDS (10 µs … 10 s).
   */
  durationBucketsSeconds?: number[];
  /** The cardinality budget (series-budget.ts): per service, services, in all, and the idle time that gives budget back. */
  seriesLimits?: Partial<SeriesBudgetLimits>;
  /** Modules exporting a ProcessorPlugin. */
  processorModules?: string[];
  /**
   * Name exchanges by their process's workload (src/metadata/: container,
   * pod, systemd unit), read from this host's /proc and cgroup tree. Only for
   * live capture: a recording's pids and cgroups are not this host's now. Default false.
   */
  resolveWorkloads?: boolean;
  /** Add to CLOCK_MONOTONIC ms to get Unix ms (from the capture, or a capture file's header). */
  clockOffsetMs: number;
  /** The store's clock, Unix ms. Default Date.now. */
  now?: () => number;
}

export type ResolvedEngineOptions = Required<Omit<EngineOptions, 'enabledMetrics' | 'seriesLimits' | 'workerThreads'>> & {
  workerThreads: number;
  enabledFamilies: string[];
  seriesLimits: Required<SeriesBudgetLimits>;
};

/** worker_threads' default: size the shards to the node. */
export const AUTO = 'auto';

/**
 * The shards "auto" means: one fewer than the cores this process may use
 * (the main thread decodes batches and serves the port), at least 1, at most
 * 4 (the seed's value; past it the store on the main thread is the limit).
 * On 2 cores, 4 workers ran slower than 1 or 2 (issue 13).
 */
export function autoWorkerThreads(cores: number = availableParallelism()): number {
  return Math.max(1, Math.min(4, Math.floor(cores) - 1));
}

/** flush_interval_seconds' default: store expiry and alert evaluation. */
export const DEFAULT_FLUSH_INTERVAL_MS = 10_000;
export const DEFAULT_WINDOWS_MS = [60_000, 300_000, 900_000, 3_600_000, 86_400_000];
export { DEFAULT_SERIES_LIMITS };

/**
 * Validates and completes the options. `sources` names where an option came
 * from (a configuration key, an environment variable) for the messages.
 */
export function resolveEngineOptions(options: EngineOptions, families: readonly MetricFamily[], sources: Record<string, string> = {}): ResolvedEngineOptions {
  const named = (key: string): string => {
    const base = /^[^[]*/.exec(key)![0];
    return sources[key] ?? (sources[base] ? sources[base] + key.slice(base.length) : key);
  };
  const fail = (key: string, value: unknown, reason: string): never => failAt(named(key), value, reason);
  const integer = (key: string, value: unknown, min: number, max: number): number => integerIn(named(key), value, min, max);
  const strings = (key: string, value: unknown): string[] => stringsAt(named(key), value);

  const retentionMs = integer('retentionMs', options.retentionMs ?? 86_400_000, 60_000, 30 * 86_400_000);
  const windowSizesMs = options.windowSizesMs ?? DEFAULT_WINDOWS_MS.filter((w) => w <= retentionMs);
  if (!Array.isArray(windowSizesMs) || windowSizesMs.length === 0) fail('windowSizesMs', windowSizesMs, 'must be a non-empty array');
  windowSizesMs.forEach((w, i) => integer(`windowSizesMs[${i}]`, w, 10_000, retentionMs));
  const patterns = strings('routePatterns', options.routePatterns ?? []);
  patterns.forEach((p, i) => {
    try {
      new RoutePattern(p);
    } catch (e) {
      fail(`routePatterns[${i}]`, p, (e as Error).message.replace(/^route pattern "[^"]*": /, ''));
    }
  });
  const redactPatterns = strings('redactPatterns', options.redactPatterns ?? []);
  try {
    compileRedactPatterns(redactPatterns);
  } catch (e) {
    fail('redactPatterns', redactPatterns, (e as Error).message);
  }
  const enabled = familiesFor(options.enabledMetrics === undefined ? undefined : strings('enabledMetrics', options.enabledMetrics), families);
  if (typeof enabled === 'string') fail('enabledMetrics', options.enabledMetrics, `names ${enabled}`);
  for (const family of families) {
    try {
      new FoldPlan(family);
    } catch (e) {
      fail('processorModules', family.name, `cannot fold: ${(e as Error).message}`);
    }
  }
  const limits = { ...DEFAULT_SERIES_LIMITS, ...options.seriesLimits };
  if (typeof options.clockOffsetMs !== 'number' || !Number.isFinite(options.clockOffsetMs)) fail('clockOffsetMs', options.clockOffsetMs, 'must be a finite number');
  return {
    workerThreads: options.workerThreads === undefined || options.workerThreads === AUTO ? autoWorkerThreads() : integer('workerThreads', options.workerThreads, 1, 64),
    bufferSize: integer('bufferSize', options.bufferSize ?? 10_000, 1, 10_000_000),
    flushIntervalMs: integer('flushIntervalMs', options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS, 100, 3_600_000),
    publishIntervalMs: integer('publishIntervalMs', options.publishIntervalMs ?? 1000, 10, 60_000),
    windowSizesMs,
    retentionMs,
    enabledFamilies: [...enabled],
    durationBucketsSeconds: ascendingBounds(named('durationBucketsSeconds'), options.durationBucketsSeconds ?? [...DEFAULT_DURATION_BUCKETS_SECONDS], MAX_DURATION_BUCKETS),
    routePatterns: patterns,
    redactPatterns,
    seriesLimits: {
      perService: integer('seriesLimits.perService', limits.perService, 1, 10_000_000),
      services: integer('seriesLimits.services', limits.services, 1, 10_000_000),
      global: integer('seriesLimits.global', limits.global, 1, 10_000_000),
      idleMs: integer('seriesLimits.idleMs', limits.idleMs, 60_000, retentionMs),
    },
    processorModules: strings('processorModules', options.processorModules ?? []),
    resolveWorkloads: options.resolveWorkloads === true,
    clockOffsetMs: options.clockOffsetMs,
    now: options.now ?? Date.now,
  };
}
