/** The Prometheus scrape path (metrics_endpoint, default /metrics): text exposition format 0.0.4, from src/exporters/prometheus.ts. */
import type { FastifyPluginAsync } from 'fastify';
import { ERROR_RESPONSES, NO_QUERY } from './schemas';

export interface PrometheusRouteOptions {
  path: string;
  /** The exposition text, made at scrape time. */
  scrape: () => Promise<string>;
}

export const prometheusRoutes: FastifyPluginAsync<PrometheusRouteOptions> = async (app, { path, scrape }) => {
  // A string body is sent as is (never through the JSON serializer).
  app.get(path, { schema: { querystring: NO_QUERY, response: { 200: { type: 'string' }, ...ERROR_RESPONSES } } }, async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return scrape();
  });
};
