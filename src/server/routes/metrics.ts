/**
 * GET /api/metrics (RED over a window, overall, per service and per route)
 * and GET /api/series (RED over time, for charts): the queries are in
 * ../api-metrics.ts (the live hub runs them too). A window the store cannot
 * serve is the query's fault: 400 HT_ERR_QUERY naming `window`. Filters as
 * the schema states them (`namespace`: a Kubernetes namespace, "" for what
 * runs outside Kubernetes); a bad one is a 400 naming it.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { DURATION_PATTERN, parseDuration } from '../../analytics/duration';
import { apiMetrics, apiSeries, NAMESPACE_MAX_LENGTH, NAMESPACE_PATTERN, type MetricsQuery, type SeriesQuery } from '../api-metrics';
import { badRequest } from '../http-errors';
import type { StoreReader } from '../sources';
import { ERROR_RESPONSES, INTEGER, NUMBER, NUMBER_OR_NULL, object, querySchema, STRING } from './schemas';

export interface MetricsRouteOptions {
  store: StoreReader;
}

const windowParam = (defaultWindow: string) => ({ type: 'string', pattern: DURATION_PATTERN, default: defaultWindow });
const FILTERS = {
  service: { type: 'string', maxLength: 256 },
  namespace: { type: 'string', maxLength: NAMESPACE_MAX_LENGTH, pattern: NAMESPACE_PATTERN },
  route: { type: 'string', maxLength: 512 },
  side: { type: 'string', enum: ['server', 'client'] },
};

const LATENCY = object({ mean: NUMBER_OR_NULL, p50: NUMBER_OR_NULL, p90: NUMBER_OR_NULL, p95: NUMBER_OR_NULL, p99: NUMBER_OR_NULL, max: NUMBER_OR_NULL });
const RED = { requests: INTEGER, requests_per_second: NUMBER, errors: INTEGER, error_rate: NUMBER, latency_seconds: LATENCY };
/** A group's labels (service, side, namespace; method, route for routes), then its RED; any other grouping label as a string. */
const RED_GROUP = {
  type: 'object',
  required: ['service', 'side', 'namespace', ...Object.keys(RED)],
  properties: { service: STRING, side: STRING, namespace: STRING, method: STRING, route: STRING, ...RED },
  additionalProperties: STRING,
};
const LABEL_MATCHER = { anyOf: [STRING, object({ op: STRING, value: STRING })] };

const METRICS = object({
  window: STRING,
  window_seconds: NUMBER,
  generated_at: STRING,
  filters: { type: 'object', additionalProperties: LABEL_MATCHER },
  totals: object(RED),
  status_classes: { type: 'object', additionalProperties: INTEGER },
  services: { type: 'array', items: RED_GROUP },
  routes: { type: 'array', items: RED_GROUP },
});

const SERIES = object({
  window: STRING,
  generated_at: STRING,
  step_seconds: NUMBER,
  points: { type: 'array', items: object({ t: NUMBER, requests_per_second: NUMBER, error_rate: NUMBER, p50: NUMBER_OR_NULL, p95: NUMBER_OR_NULL, p99: NUMBER_OR_NULL }) },
});

export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, { store }) => {
  /** The window in ms, or undefined after a 400 naming it when the store cannot serve it. */
  const windowMsOrReject = (window: string, reply: FastifyReply): number | undefined => {
    const windowMs = parseDuration(window)!; // the schema has checked the syntax
    const problem = store.windowProblem(windowMs);
    if (!problem) return windowMs;
    badRequest(reply, 'window', `window: ${window} ${problem}`, 'HT_ERR_QUERY');
    return undefined;
  };

  app.get<{ Querystring: MetricsQuery }>(
    '/api/metrics',
    {
      schema: {
        querystring: querySchema({
          window: windowParam('5m'),
          ...FILTERS,
          method: { type: 'string', maxLength: 16 },
          status_class: { type: 'string', enum: ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
        }),
        response: { 200: METRICS, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      const windowMs = windowMsOrReject(req.query.window, reply);
      // The clock is read once per request: every query of it sees the same now.
      return windowMs === undefined ? reply : apiMetrics(store, req.query, windowMs, store.nowMs());
    },
  );

  app.get<{ Querystring: SeriesQuery }>(
    '/api/series',
    { schema: { querystring: querySchema({ window: windowParam('15m'), ...FILTERS }), response: { 200: SERIES, ...ERROR_RESPONSES } } },
    async (req, reply) => {
      const windowMs = windowMsOrReject(req.query.window, reply);
      return windowMs === undefined ? reply : apiSeries(store, req.query, windowMs, store.nowMs());
    },
  );
};
