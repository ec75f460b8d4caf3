/**
 * GET /api/health: the seed's shape ({status, processors, aggregators,
 * buffer_size, buffer_capacity, worker_threads}) and the agent's own
 * counters, with the problems in words:
 *
 *   healthy    200  nothing to report
 *   degraded   200  ready (readiness.ts), but something is wrong in part: engine failures (a
 *                   batch a processor threw on), probes that did not attach, exchanges lost in
 *                   about the last minute, alert rules that failed to evaluate, notification
 *                   targets whose last attempt failed, forwarding failing for 5 minutes,
 *                   Kubernetes metadata not synced
 *   unhealthy  503  not ready: stopping, the engine stopped, or no probe attached (the agent
 *                   does not do its job; the same answer as /readyz's 503)
 *
 * Open even with protect_reads (api-auth.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import { readinessOf } from '../readiness';
import type { HealthSource } from '../sources';
import { ERROR_RESPONSES, INTEGER, iso, NO_QUERY, NUMBER, object, STRING, STRING_OR_NULL, STRINGS } from './schemas';

export interface HealthRouteOptions {
  health: HealthSource;
  /** When the agent started (Unix ms). */
  startedAtMs: number;
  /** Exchanges lost since the start, and in about the last minute (loss-watch.ts). */
  lost: { total(): number; lastMinute(): number };
}

/** The store keeps three kinds of aggregates: counters, histograms, and all-time totals. */
const AGGREGATORS = 3;

const HEALTH = object({
  status: { type: 'string', enum: ['healthy', 'degraded', 'unhealthy'] },
  processors: INTEGER,
  aggregators: INTEGER,
  buffer_size: INTEGER,
  buffer_capacity: INTEGER,
  worker_threads: INTEGER,
  uptime_seconds: NUMBER,
  probes: object({ attached: INTEGER, total: INTEGER, failed: STRINGS }, { nullable: true }),
  lost: object({ total: INTEGER, last_minute: INTEGER }),
  alerting: object(
    {
      rules: INTEGER,
      pending: INTEGER,
      firing: INTEGER,
      evaluations: INTEGER,
      evaluation_failures: INTEGER,
      last_evaluation_ms: NUMBER,
      notifications: {
        type: 'array',
        items: object({
          name: STRING,
          kind: STRING,
          url: STRING,
          sent: INTEGER,
          failed: INTEGER,
          queued: INTEGER,
          dropped: INTEGER,
          last_error: STRING_OR_NULL,
          last_error_at: STRING_OR_NULL,
          last_success_at: STRING_OR_NULL,
        }),
      },
    },
    { nullable: true },
  ),
  forwarding: object(
    {
      flushes: INTEGER,
      last_flush_ms: NUMBER,
      last_flush_at: STRING_OR_NULL,
      flush_errors: INTEGER,
      targets: {
        type: 'array',
        items: object({
          name: STRING,
          kind: STRING,
          url: STRING,
          samples_sent: INTEGER,
          samples_failed: INTEGER,
          samples_retried: INTEGER,
          samples_dropped: INTEGER,
          queue_bytes: INTEGER,
          queue_records: INTEGER,
          oldest_seconds: NUMBER,
          last_success_at: STRING_OR_NULL,
          last_error: STRING_OR_NULL,
          last_error_at: STRING_OR_NULL,
          failing_since: STRING_OR_NULL,
        }),
      },
    },
    { nullable: true },
  ),
  metadata: object(
    { source: { type: 'string', enum: ['kubernetes', 'none'] }, detail: STRING, node: STRING, pods: INTEGER, services: INTEGER, synced: { type: 'boolean' }, last_error: STRING_OR_NULL },
    { nullable: true },
  ),
  problems: { type: 'array', items: STRING },
});

/** A forwarding target failing this long (every attempt since) makes the agent degraded. */
export const FORWARD_FAILING_MS = 5 * 60_000;


export const healthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, { health, startedAtMs, lost }) => {
  app.get('/api/health', { schema: { querystring: NO_QUERY, response: { 200: HEALTH, 503: HEALTH, ...ERROR_RESPONSES } } }, async (_req, reply) => {
    const readiness = readinessOf(health);
    const stats = health.engineStats();
    const failedProbes = (health.probes ?? []).filter((a) => !a.attached).map((a) => a.program);
    const lastMinute = lost.lastMinute();
    const alerting = health.alerting?.();
    const forwarding = health.forwarding?.();
    const metadata = health.metadata?.();
    // A target is failing while its last attempt failed (a success since clears it).
    const failing = (alerting?.targets ?? []).filter((t) => t.lastErrorAt !== undefined && t.lastErrorAt > (t.lastSuccessAt ?? 0));
    const problems = [
      ...(readiness.ready ? [] : [readiness.reason]),
      ...stats.failures.map((f) => `engine: ${f.split('\n')[0]}`),
      ...(failedProbes.length ? [`probes not attached: ${failedProbes.join(', ')}`] : []),
      ...(lastMinute > 0 ? [`${lastMinute} exchanges lost in the last minute`] : []),
      ...(alerting?.stats.failingRules ?? []).map((r) => `alert rule ${r}`),
      ...failing.map((t) => `notifications to ${t.name} (${t.url}) failing: ${t.lastError} (${t.queued} waiting)`),
      ...(forwarding?.targets ?? [])
        .filter((t) => t.failingSince !== undefined && Date.now() - t.failingSince >= FORWARD_FAILING_MS)
        .map((t) => `forwarding to ${t.name} (${t.url}) failing since ${iso(t.failingSince)}: ${t.lastError} (${t.queueRecords} rollups waiting, the oldest ${Math.round(t.oldestSeconds)} s)`),
      ...(forwarding?.lastFlushError ? [`forwarding: the latest rollup could not be queued: ${forwarding.lastFlushError}`] : []),
      ...(metadata?.source === 'kubernetes' && !metadata.synced ? [`kubernetes metadata not synced: ${metadata.lastError ?? 'no answer yet'}`] : []),
    ];
    reply.code(readiness.ready ? 200 : 503);
    return {
      status: !readiness.ready ? 'unhealthy' : problems.length === 0 ? 'healthy' : 'degraded',
      processors: Object.keys(stats.processors).length,
      aggregators: AGGREGATORS,
      buffer_size: stats.bufferSize,
      buffer_capacity: stats.bufferCapacity,
      worker_threads: stats.workerThreads,
      uptime_seconds: (Date.now() - startedAtMs) / 1000,
      probes: health.probes ? { attached: health.probes.length - failedProbes.length, total: health.probes.length, failed: failedProbes } : null,
      lost: { total: lost.total(), last_minute: lastMinute },
      alerting: alerting
        ? {
            rules: alerting.stats.rules,
            pending: alerting.stats.instances.pending,
            firing: alerting.stats.instances.firing,
            evaluations: alerting.stats.evaluations,
            evaluation_failures: alerting.stats.failures,
            last_evaluation_ms: alerting.stats.lastEvaluationMs,
            notifications: alerting.targets.map((t) => ({
              name: t.name,
              kind: t.kind,
              url: t.url,
              sent: t.sent,
              failed: t.failed,
              queued: t.queued,
              dropped: t.dropped,
              last_error: t.lastError ?? null,
              last_error_at: iso(t.lastErrorAt),
              last_success_at: iso(t.lastSuccessAt),
            })),
          }
        : null,
      forwarding: forwarding
        ? {
            flushes: forwarding.flushes,
            last_flush_ms: forwarding.lastFlushMs,
            last_flush_at: iso(forwarding.lastFlushAt),
            flush_errors: forwarding.flushErrors,
            targets: forwarding.targets.map((t) => ({
              name: t.name,
              kind: t.kind,
              url: t.url,
              samples_sent: t.samplesSent,
              samples_failed: t.samplesFailed,
              samples_retried: t.samplesRetried,
              samples_dropped: t.samplesDropped,
              queue_bytes: t.queueBytes,
              queue_records: t.queueRecords,
              oldest_seconds: t.oldestSeconds,
              last_success_at: iso(t.lastSuccessAt),
              last_error: t.lastError ?? null,
              last_error_at: iso(t.lastErrorAt),
              failing_since: iso(t.failingSince),
            })),
          }
        : null,
      metadata: metadata
        ? { source: metadata.source, detail: metadata.detail, node: metadata.node, pods: metadata.pods, services: metadata.services, synced: metadata.synced, last_error: metadata.lastError }
        : null,
      problems,
    };
  });
};
