/** GET /api/alerts until the alerting engine serves it (routes/alerts.ts): no rules, no history. */
import type { FastifyPluginAsync } from 'fastify';
import { ERROR_RESPONSES, NO_QUERY, object } from './schemas';

const ALERTS = object({
  alerts: { type: 'array', items: { type: 'object', additionalProperties: true } },
  history: { type: 'array', items: { type: 'object', additionalProperties: true } },
});

export const alertsStubRoutes: FastifyPluginAsync = async (app) => {
  app.get('/api/alerts', { schema: { querystring: NO_QUERY, response: { 200: ALERTS, ...ERROR_RESPONSES } } }, async () => ({ alerts: [], history: [] }));
};
