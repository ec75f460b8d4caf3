/**
 * GET /healthz and /readyz, for Kubernetes (and any load balancer):
 *
 *   /healthz  200 {"status":"alive"} whenever the process answers (liveness: a hung agent fails it)
 *   /readyz   200 {"status":"ready","reason":...}, or 503 {"status":"not ready","reason":...}
 *             (readiness.ts: capturing and the engine running)
 *
 * Open without a token (api-auth.ts lets every path outside /api/ and the
 * metrics path through), no query, a few bytes, no store query: cheap enough
 * to be called every second.
 */
import type { FastifyPluginAsync } from 'fastify';
import { readinessOf } from '../readiness';
import type { HealthSource } from '../sources';
import { ERROR_RESPONSES, NO_QUERY, object, STRING } from './schemas';

export interface ProbeRouteOptions {
  health: HealthSource;
}

export const PROBE_PATHS = ['/healthz', '/readyz'] as const;

const ALIVE = object({ status: { type: 'string', enum: ['alive'] } });
const READY = object({ status: { type: 'string', enum: ['ready', 'not ready'] }, reason: STRING });

export const probeRoutes: FastifyPluginAsync<ProbeRouteOptions> = async (app, { health }) => {
  app.get('/healthz', { schema: { querystring: NO_QUERY, response: { 200: ALIVE, ...ERROR_RESPONSES } } }, async () => ({ status: 'alive' }));
  app.get('/readyz', { schema: { querystring: NO_QUERY, response: { 200: READY, 503: READY, ...ERROR_RESPONSES } } }, async (_req, reply) => {
    const { ready, reason } = readinessOf(health);
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not ready', reason };
  });
};
