/**
 * The agent's HTTP surface on one port: REST under /api, Prometheus at
 * /metrics, the dashboard at "/". An app factory apart from listen(), so
 * tests use inject(). Each resource is a Fastify plugin (routes/), with
 * query and response schemas; every refusal is a JSON error with a code
 * (http-errors.ts); the port bounds its connections and its slow or idle
 * clients (connection-guard.ts) and guards writes, and with protect_reads
 * reads (api-auth.ts). It reads the agent through StoreReader and
 * HealthSource (sources.ts), never the engine.
 *
 *   reply object --preSerialization: escapedForJson (safe-text.ts)--> route's response schema
 *                (fast-json-stringify; JSON.stringify where a route has none) --> body
 *
 * Every captured string leaves with its control characters escaped, whatever
 * serializes it: the escaping runs as a hook on the payload, before the
 * route's schema serializer, so a route without a response schema (or one
 * added later) is escaped too.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Log } from '../log/logger';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../config/http-limits';
import { installApiAuth, type ApiSecurity } from './api-auth';
import { guardConnections } from './connection-guard';
import { DASHBOARD_PATHS, registerDashboard } from './dashboard';
import { frameworkErrors, installErrorHandling } from './http-errors';
import type { LiveHub } from './live/hub';
import { LossWatch, SAMPLE_EVERY_MS } from './loss-watch';
import { alertRoutes } from './routes/alerts';
import type { Alerting } from '../alerting/alerting';
import { healthRoutes } from './routes/health';
import { indexRoutes } from './routes/index';
import { metricsRoutes } from './routes/metrics';
import { PROBE_PATHS, probeRoutes } from './routes/probes';
import { processorsRoutes } from './routes/processors';
import { prometheusRoutes } from './routes/prometheus';
import { statsRoutes } from './routes/stats';
import { escapedForJson } from './safe-text';
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
  /** Rules, alerts and incidents (/api/alerts, /api/incidents); undefined when alerting is off. */
  alerting?: Alerting;
  http?: Partial<HttpLimits>;
  /** The agent's logger (Fastify's own: errors it answers with a 500, its listening line); default none. */
  log?: Log;
}

/** Why the metrics path cannot be served beside the port's own paths (the API, WebSocket, dashboard), or undefined. */
export function metricsPathConflict(path: string): string | undefined {
  const page = DASHBOARD_PATHS.find((p) => p === path);
  if (page) return `collides with the dashboard's ${page}`;
  const probe = PROBE_PATHS.find((p) => p === path);
  if (probe) return `collides with the agent's own ${probe} (the Kubernetes probes)`;
  const prefix = ['/api', '/ws', '/assets'].find((p) => path === p || path.startsWith(`${p}/`));
  return prefix ? `collides with the agent's own ${prefix}/ paths` : undefined;
}

/** No line per request at info (every scrape, every dashboard poll would be one): at debug, and failures at error. */
class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ err: error, method: request.method, url: request.url }, `${request.method} ${request.url}: ${error.message}`);
    else reply.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, `${request.method} ${request.url} ${reply.statusCode}`);
  }
}

export function buildApp(sources: AppSources): FastifyInstance {
  const { store, health } = sources;
  const limits = { ...DEFAULT_HTTP_LIMITS, ...sources.http };
  const metricsPath = sources.metricsPath ?? '/metrics';
  const app = Fastify({
    ...(sources.log ? { loggerInstance: sources.log as FastifyBaseLogger, logController: new RequestLog() } : { logger: false }),
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
  // Every JSON answer: captured strings with their control characters escaped, before any serializer sees them.
  app.addHook('preSerialization', (_req, _reply, payload, done) => done(null, escapedForJson(payload)));
  const connections = guardConnections(app.server, limits.maxConnections, sources.live !== undefined);
  // close() waits for every socket the server accepted: the WebSocket ones end with the port.
  app.addHook('preClose', (done) => {
    connections.endUpgraded();
    done();
  });
  // Bodies are JSON: a text/plain one is refused (415) instead of reaching a route as a string.
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app);
  installApiAuth(app, sources.security ?? { protectReads: false }, metricsPath);
  const lostTotal = (): number => (health.captureStats?.().lost.total ?? 0) + health.engineStats().droppedEvents;
  const losses = new LossWatch(lostTotal, Date.now, sources.startedAtMs);
  const sampler = setInterval(() => losses.sample(), SAMPLE_EVERY_MS).unref();
  app.addHook('onClose', async () => clearInterval(sampler));

  const { startedAtMs, live } = sources;
  app.register(probeRoutes, { health });
  app.register(healthRoutes, { health, startedAtMs, lost: { total: lostTotal, lastMinute: () => losses.recent() } });
  app.register(processorsRoutes, { health });
  app.register(statsRoutes, {
    store,
    health,
    startedAtMs,
    windowSizesMs: sources.windowSizesMs,
    websocket: live && (() => live.stats()),
    connections: connections.stats,
    maxConnections: limits.maxConnections,
  });
  app.register(alertRoutes, { alerting: sources.alerting });
  app.register(metricsRoutes, { store });
  app.register(prometheusRoutes, { path: metricsPath, scrape: sources.scrape });
  if (sources.dashboard) {
    registerDashboard(app);
    app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  } else {
    app.register(indexRoutes, { metricsPath });
  }
  return app;
}
