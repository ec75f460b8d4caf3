/** "/" when the dashboard is off: what this port serves. */
import type { FastifyPluginAsync } from 'fastify';
import { ERROR_RESPONSES, object, STRING, STRINGS } from './schemas';

export interface IndexRouteOptions {
  metricsPath: string;
}

const INDEX = object({ name: STRING, endpoints: STRINGS });

export const indexRoutes: FastifyPluginAsync<IndexRouteOptions> = async (app, { metricsPath }) => {
  const endpoints = ['/api/metrics?window=5m', '/api/series?window=15m', '/api/health', '/healthz', '/readyz', '/api/processors', '/api/stats', '/api/alerts', metricsPath, '/ws/{client_id}', '/ws/analytics'];
  // Like the dashboard's page, "/" ignores query strings.
  app.get('/', { schema: { response: { 200: INDEX, ...ERROR_RESPONSES } } }, async () => ({ name: 'ebpf-http-tracer', endpoints }));
};
