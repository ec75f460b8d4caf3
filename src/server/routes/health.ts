/**
 * GET /api/health: healthy or degraded, and why — engine failures, probes
 * that did not attach, exchanges lost in about the last minute. Open even
 * with protect_reads (the liveness probe; api-auth.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { HealthSource } from '../sources';
import { ERROR_RESPONSES, INTEGER, NO_QUERY, NUMBER, object, STRING, STRINGS } from './schemas';

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
  status: { type: 'string', enum: ['healthy', 'degraded'] },
  processors: INTEGER,
  aggregators: INTEGER,
  buffer_size: INTEGER,
  buffer_capacity: INTEGER,
  worker_threads: INTEGER,
  uptime_seconds: NUMBER,
  probes: object({ attached: INTEGER, total: INTEGER, failed: STRINGS }, { nullable: true }),
  lost: object({ total: INTEGER, last_minute: INTEGER }),
  problems: { type: 'array', items: STRING },
});

export const healthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, { health, startedAtMs, lost }) => {
  app.get('/api/health', { schema: { querystring: NO_QUERY, response: { 200: HEALTH, ...ERROR_RESPONSES } } }, async () => {
    const stats = health.engineStats();
    const failedProbes = (health.probes ?? []).filter((a) => !a.attached).map((a) => a.program);
    const lastMinute = lost.lastMinute();
    const problems = [
      ...stats.failures.map((f) => `engine: ${f.split('\n')[0]}`),
      ...(failedProbes.length ? [`probes not attached: ${failedProbes.join(', ')}`] : []),
      ...(lastMinute > 0 ? [`${lastMinute} exchanges lost in the last minute`] : []),
    ];
    return {
      status: problems.length === 0 ? 'healthy' : 'degraded',
      processors: Object.keys(stats.processors).length,
      aggregators: AGGREGATORS,
      buffer_size: stats.bufferSize,
      buffer_capacity: stats.bufferCapacity,
      worker_threads: stats.workerThreads,
      uptime_seconds: (Date.now() - startedAtMs) / 1000,
      probes: health.probes ? { attached: health.probes.length - failedProbes.length, total: health.probes.length, failed: failedProbes } : null,
      lost: { total: lost.total(), last_minute: lastMinute },
      problems,
    };
  });
};
