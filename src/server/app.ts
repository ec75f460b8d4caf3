/**
 * The agent's HTTP surface on one port: REST under /api, Prometheus at
 * /metrics. An app factory apart from listen(), so tests use inject().
 * Every query is checked by JSON Schema; every refusal is a JSON error with a
 * code (http-errors.ts); captured strings leave with their control characters
 * escaped (safe-text.ts); the port bounds its connections and its slow or idle
 * clients (connection-guard.ts) and, with a token, guards writes and
 * optionally reads (api-auth.ts).
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { DURATION_PATTERN, formatDuration, parseDuration } from '../analytics/duration';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../config/http-limits';
import { installApiAuth, type ApiSecurity } from './api-auth';
import { apiMetrics, apiSeries, type MetricsQuery, type SeriesQuery } from './api-metrics';
import { guardConnections } from './connection-guard';
import { DASHBOARD_PATHS, registerDashboard } from './dashboard';
import { badRequest, frameworkErrors, installErrorHandling } from './http-errors';
import type { LiveHub } from './live/hub';
import { LossWatch, SAMPLE_EVERY_MS } from './loss-watch';
import { controlEscapingReplacer } from './safe-text';
import type { HealthSource, StoreReader } from './sources';

export interface AppSources {
  /** The store's read side: the REST queries, and its counters for /api/stats. */
  store: StoreReader;
  /** The engine's, the capture's and the probes' counters: /api/health, /api/stats, /api/processors. */
  health: HealthSource;
  /** The windows offered by default (window_sizes), in ms, for /api/stats. */
  windowSizesMs: readonly number[];
  /** prom-client text for /metrics. */
  scrape: () => Promise<string>;
  /** When the agent started: loss counters were 0 then. */
  startedAtMs: number;
  metricsPath?: string;
  live?: LiveHub;
  /** Serve the dashboard page at "/" (enable_dashboard). */
  dashboard?: boolean;
  /** The API token, if any; default none. */
  security?: ApiSecurity;
  http?: Partial<HttpLimits>;
}

/** Why the metrics path cannot be served beside the port's own paths (the API, WebSocket, dashboard), or undefined. */
export function metricsPathConflict(path: string): string | undefined {
  const page = DASHBOARD_PATHS.find((p) => p === path);
  if (page) return `collides with the dashboard's ${page}`;
  const prefix = ['/api', '/ws', '/assets'].find((p) => path === p || path.startsWith(`${p}/`));
  return prefix ? `collides with the agent's own ${prefix}/ paths` : undefined;
}

/** A route's query parameters; any other parameter is refused. */
const querySchema = (properties: Record<string, object>) => ({ schema: { querystring: { type: 'object', additionalProperties: false, properties } } });
const NO_QUERY = querySchema({});
const windowParam = (defaultWindow: string) => ({ type: 'string', pattern: DURATION_PATTERN, default: defaultWindow });
const FILTERS = {
  service: { type: 'string', maxLength: 256 },
  route: { type: 'string', maxLength: 512 },
  side: { type: 'string', enum: ['server', 'client'] },
};
/** The store keeps three kinds of aggregates: counters, histograms, and all-time totals. */
const AGGREGATORS = 3;

export function buildApp(sources: AppSources): FastifyInstance {
  const { store, health } = sources;
  const limits = { ...DEFAULT_HTTP_LIMITS, ...sources.http };
  const metricsPath = sources.metricsPath ?? '/metrics';
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node's headers timeout starts at a request's first byte: a socket that never sends one needs an idle timeout.
    // (WebSocket sockets are exempt: ws clears the timeout when it takes a socket.)
    connectionTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: limits.connectionsCheckingIntervalMs },
    frameworkErrors,
    // Unknown query parameters are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  // Every JSON answer: captured strings with their control characters escaped.
  app.setReplySerializer((payload) => JSON.stringify(payload, controlEscapingReplacer));
  const connections = guardConnections(app.server, limits.maxConnections, sources.live !== undefined);
  installErrorHandling(app);
  installApiAuth(app, sources.security ?? { protectReads: false }, metricsPath);
  const losses = new LossWatch(() => lostTotal(sources), Date.now, sources.startedAtMs);
  const sampler = setInterval(() => losses.sample(), SAMPLE_EVERY_MS).unref();
  app.addHook('onClose', async () => clearInterval(sampler));

  app.get('/api/health', NO_QUERY, async () => {
    const stats = health.engineStats();
    const failedProbes = (health.probes ?? []).filter((a) => !a.attached).map((a) => a.program);
    const lost = losses.recent();
    const problems = [
      ...stats.failures.map((f) => `engine: ${f.split('\n')[0]}`),
      ...(failedProbes.length ? [`probes not attached: ${failedProbes.join(', ')}`] : []),
      ...(lost > 0 ? [`${lost} exchanges lost in the last minute`] : []),
    ];
    return {
      status: problems.length === 0 ? 'healthy' : 'degraded',
      processors: Object.keys(stats.processors).length,
      aggregators: AGGREGATORS,
      buffer_size: stats.bufferSize,
      buffer_capacity: stats.bufferCapacity,
      worker_threads: stats.workerThreads,
      uptime_seconds: (Date.now() - sources.startedAtMs) / 1000,
      probes: health.probes ? { attached: health.probes.length - failedProbes.length, total: health.probes.length, failed: failedProbes } : null,
      lost: { total: lostTotal(sources), last_minute: lost },
      problems,
    };
  });

  app.get('/api/processors', NO_QUERY, async () => ({
    processors: Object.entries(health.engineStats().processors).map(([name, p]) => ({
      name,
      events_in: p.eventsIn,
      writes: p.writes,
      folded: p.folded,
      time_seconds: p.timeNs / 1e9,
      ns_per_event: p.eventsIn > 0 ? p.timeNs / p.eventsIn : null,
    })),
  }));

  app.get('/api/stats', NO_QUERY, async () => {
    const e = health.engineStats();
    const capture = health.captureStats?.();
    return {
      uptime_seconds: (Date.now() - sources.startedAtMs) / 1000,
      engine: {
        status: e.status,
        worker_threads: e.workerThreads,
        events_in: e.eventsIn,
        events_processed: e.eventsProcessed,
        dropped_events: e.droppedEvents,
        dropped_batches: e.droppedBatches,
        buffer_size: e.bufferSize,
        buffer_capacity: e.bufferCapacity,
        truncated_bytes: e.truncatedBytes,
        unknown_records: e.unknownRecords,
      },
      capture: capture ? { records: capture.records, batches: capture.batches, lost: capture.lost } : null,
      store: store.stats(),
      websocket: sources.live?.stats() ?? null,
      http: (({ open, evictedIdle, refusedBusy }) => ({ open, max_connections: limits.maxConnections, evicted_idle: evictedIdle, refused_busy: refusedBusy }))(connections()),
      windows: sources.windowSizesMs.map(formatDuration),
    };
  });

  app.get('/api/alerts', NO_QUERY, async () => ({ alerts: [], history: [] }));

  if (sources.dashboard) {
    registerDashboard(app);
    app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  } else {
    // Without the dashboard, "/" says what this port serves.
    app.get('/', async () => ({
      name: 'ebpf-http-tracer',
      endpoints: ['/api/metrics?window=5m', '/api/series?window=15m', '/api/health', '/api/processors', '/api/stats', '/api/alerts', metricsPath, '/ws/{client_id}', '/ws/analytics'],
    }));
  }

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
    querySchema({
      window: windowParam('5m'),
      ...FILTERS,
      method: { type: 'string', maxLength: 16 },
      status_class: { type: 'string', enum: ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
    }),
    async (req, reply) => {
      const windowMs = windowMsOrReject(req.query.window, reply);
      return windowMs === undefined ? reply : apiMetrics(store, req.query, windowMs, store.nowMs());
    },
  );

  app.get<{ Querystring: SeriesQuery }>('/api/series', querySchema({ window: windowParam('15m'), ...FILTERS }), async (req, reply) => {
    const windowMs = windowMsOrReject(req.query.window, reply);
    return windowMs === undefined ? reply : apiSeries(store, req.query, windowMs, store.nowMs());
  });

  app.get(metricsPath, NO_QUERY, async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return sources.scrape();
  });

  return app;
}

function lostTotal(sources: AppSources): number {
  return (sources.health.captureStats?.().lost.total ?? 0) + sources.health.engineStats().droppedEvents;
}
