/**
 * What the HTTP port (REST routes, /metrics) reads, and nothing more: the
 * store's query side and the agent's health counters. The agent adapts the
 * engine and the capture to these (src/agent/readers.ts); nothing under
 * server/ sees the Engine, its options or its shards.
 *
 *   StoreReader   queries, the store's clock, its own counters   (MetricStore fits as is)
 *   HealthSource  engine, capture, probe and alerting counters   (read when asked)
 */
import type { AlertingStats } from '../alerting/alerting';
import type { TargetStats } from '../alerting/types';
import type { MetricStore } from '../analytics/store';
import type { ForwarderStats } from '../exporters/forwarder';
import type { AttachResult } from '../capture/addon';
import type { CaptureStats } from '../capture/capture';
import type { TlsFailure } from '../capture/tls/tls-probes';
import type { EngineStats } from '../pipeline/engine';
import type { MetadataStatus } from '../metadata/kubernetes-watch';

/**
 * The store as readers see it. Every result is a new object the caller owns;
 * Series from seriesOf() are the store's own, to read during the call only.
 * Read nowMs() once per request and pass it to the queries.
 */
export type StoreReader = Pick<MetricStore, 'families' | 'nowMs' | 'window' | 'range' | 'windowProblem' | 'resolutionFor' | 'seriesOf' | 'seriesCount' | 'budgetStats' | 'stats'>;

/** The agent's own counters: each call a fresh snapshot, the caller's to keep. */
export interface HealthSource {
  engineStats(): EngineStats;
  /** When capturing (not with a recorded file, nor in tests). */
  captureStats?(): CaptureStats;
  /** What became of each eBPF program, when capturing; fixed after start. */
  probes?: readonly AttachResult[];
  /** TLS libraries that export the SSL functions but could not be probed, when the TLS uprobes are on. */
  tlsFailures?(): TlsFailure[];
  /** Rule evaluation and notification delivery, when alerting is on. */
  alerting?(): { stats: AlertingStats; targets: TargetStats[] };
  /** Forwarding to central stores, when a target is configured. */
  forwarding?(): ForwarderStats;
  /** Where workload names come from (Kubernetes or not), when the agent resolves them. */
  metadata?(): MetadataStatus;
  /** True once the agent began to stop (readiness.ts: not ready from then on). */
  stopping?(): boolean;
}
