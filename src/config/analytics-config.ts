/**
 * The analytics section of the seed's configuration file and its
 * environment variables, turned into engine options. The environment wins
 * over the file. Every problem names the key (or variable), the value and
 * the reason, and stops start-up (exit code 2).
 *
 *   {"output": {"enable_analytics": true, "analytics": {
 *     "buffer_size": 10000, "worker_threads": 4, "flush_interval_seconds": 10,
 *     "window_sizes": ["1m", "5m", "15m", "1h"], "retention_hours": 24,
 *     "enabled_metrics": ["http_requests_total", ...],
 *     "route_patterns": ["/orders/:id/items"], "max_series_per_service": 1000, "max_series": 10000,
 *     "processors": ["./my-processor.js"],
 *     "enable_dashboard": true, "dashboard_port": 8080, "dashboard_address": "0.0.0.0", "metrics_endpoint": "/metrics",
 *     ...alerting keys (read by the alerting engine) }}}
 */
import fs from 'node:fs';
import { isIP } from 'node:net';
import { parseDuration } from '../analytics/duration';
import { TracerError } from '../errors';
import type { EngineOptions } from '../pipeline/engine-options';
import { DEFAULT_LIVE, type LiveOptions } from '../server/live-hub';

export type AnalyticsOptions = Omit<EngineOptions, 'clockOffsetMs' | 'now'>;

/** Where each option came from, for messages: engine option key → "config FILE: output.analytics.worker_threads" or a variable name. */
export type OptionSources = Record<string, string>;

/** Configuration files are small; anything larger is a mistake. */
const MAX_CONFIG_BYTES = 1 << 20;
const SECTION = 'output.analytics';

/** Keys the seed lists that other parts of the agent read (dashboard, alerting). */
const OTHER_SEED_KEYS = ['enable_alerting', 'alert_rules'];
const SERVER_KEYS = ['enable_dashboard', 'dashboard_port', 'dashboard_address', 'metrics_endpoint'];
const ENGINE_KEYS = ['buffer_size', 'worker_threads', 'flush_interval_seconds', 'window_sizes', 'retention_hours', 'enabled_metrics', 'route_patterns', 'max_series_per_service', 'max_series', 'processors'];

/** The agent's one port: where it listens, what it serves. */
export interface ServerOptions {
  port: number;
  /** Default all interfaces, as a DaemonSet needs; 127.0.0.1 to keep it local. */
  address: string;
  enableDashboard: boolean;
  metricsPath: string;
}

export const DEFAULT_SERVER: ServerOptions = { port: 8080, address: '0.0.0.0', enableDashboard: true, metricsPath: '/metrics' };

const SERVER_ENV = {
  HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: 'port',
  HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: 'address',
  HTTP_TRACER_ANALYTICS_ENABLE_DASHBOARD: 'enableDashboard',
} as const;

function serverOption(where: string, key: keyof ServerOptions, v: unknown): ServerOptions[keyof ServerOptions] {
  switch (key) {
    case 'port':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) fail(where, v, 'must be a port number, 1 to 65535');
      return v as number;
    case 'address':
      if (typeof v !== 'string' || !isIP(v)) fail(where, v, 'must be an IPv4 or IPv6 address (0.0.0.0 for all interfaces)');
      return v as string;
    case 'enableDashboard':
      return flag(where, v);
    case 'metricsPath':
      if (typeof v !== 'string' || !/^\/[A-Za-z0-9._~/-]*$/.test(v) || v.startsWith('/api/') || v === '/') fail(where, v, 'must be a path such as /metrics (not / and not under /api/)');
      return v as string;
  }
}

export const ANALYTICS_ENV = {
  HTTP_TRACER_ANALYTICS_BUFFER_SIZE: 'bufferSize',
  HTTP_TRACER_ANALYTICS_WORKER_THREADS: 'workerThreads',
  HTTP_TRACER_ANALYTICS_FLUSH_INTERVAL_SECONDS: 'flushIntervalMs',
} as const;

function fail(where: string, value: unknown, reason: string): never {
  throw new TracerError('HT_ERR_OPTION', `${where}: ${JSON.stringify(value)} ${reason}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function duration(where: string, text: unknown): number {
  const ms = parseDuration(text);
  if (ms === undefined) fail(where, text, 'is not a duration (a positive whole number and s, m, h or d: "30s", "5m", "1h")');
  return ms as number;
}

function integer(where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(where, v, 'must be an integer');
  return v;
}

function strings(where: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(where, v, 'must be an array of strings');
  return v as string[];
}

const FILE_KEYS: Record<string, string> = {
  bufferSize: 'buffer_size',
  workerThreads: 'worker_threads',
  flushIntervalMs: 'flush_interval_seconds',
  windowSizesMs: 'window_sizes',
  retentionMs: 'retention_hours',
  enabledMetrics: 'enabled_metrics',
  routePatterns: 'route_patterns',
  processorModules: 'processors',
  'seriesLimits.perService': 'max_series_per_service',
  'seriesLimits.global': 'max_series',
};

/** The analytics section of a parsed configuration document. */
export function analyticsFromDocument(doc: unknown, source: string): AnalyticsOptions {
  if (!isObject(doc)) fail(source, doc, 'must be a JSON object');
  const output = doc.output ?? {};
  if (!isObject(output)) fail(`${source}: output`, output, 'must be an object');
  const a = output.analytics ?? {};
  if (!isObject(a)) fail(`${source}: ${SECTION}`, a, 'must be an object');
  const at = (key: string): string => `${source}: ${SECTION}.${key}`;
  for (const key of Object.keys(a)) {
    const known = [...ENGINE_KEYS, ...SERVER_KEYS, ...OTHER_SEED_KEYS];
    if (!known.includes(key)) fail(at(key), a[key], `is not a known key (known: ${known.join(', ')})`);
  }
  const options: AnalyticsOptions = {};
  if (a.buffer_size !== undefined) options.bufferSize = integer(at('buffer_size'), a.buffer_size);
  if (a.worker_threads !== undefined) options.workerThreads = integer(at('worker_threads'), a.worker_threads);
  if (a.flush_interval_seconds !== undefined) options.flushIntervalMs = integer(at('flush_interval_seconds'), a.flush_interval_seconds) * 1000;
  if (a.window_sizes !== undefined) options.windowSizesMs = strings(at('window_sizes'), a.window_sizes).map((w, i) => duration(at(`window_sizes[${i}]`), w));
  if (a.retention_hours !== undefined) {
    const hours = a.retention_hours;
    if (typeof hours !== 'number' || !(hours > 0)) fail(at('retention_hours'), hours, 'must be a positive number');
    options.retentionMs = Math.round(hours * 3_600_000);
  }
  if (a.enabled_metrics !== undefined) options.enabledMetrics = strings(at('enabled_metrics'), a.enabled_metrics);
  if (a.route_patterns !== undefined) options.routePatterns = strings(at('route_patterns'), a.route_patterns);
  if (a.processors !== undefined) options.processorModules = strings(at('processors'), a.processors);
  if (a.max_series_per_service !== undefined || a.max_series !== undefined) {
    options.seriesLimits = {};
    if (a.max_series_per_service !== undefined) options.seriesLimits.perService = integer(at('max_series_per_service'), a.max_series_per_service);
    if (a.max_series !== undefined) options.seriesLimits.global = integer(at('max_series'), a.max_series);
  }
  return options;
}

export interface AgentConfig {
  options: AnalyticsOptions;
  sources: OptionSources;
  server: ServerOptions;
  live: LiveOptions;
  /** output.enable_analytics / HTTP_TRACER_ENABLE_ANALYTICS: false makes `run` a plain tracer. */
  enableAnalytics: boolean;
  /** analytics.enable_alerting / HTTP_TRACER_ANALYTICS_ENABLE_ALERTING, for the alerting engine. */
  enableAlerting: boolean;
}

function flag(where: string, v: unknown): boolean {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  fail(where, v, 'must be true or false');
}

/** The WebSocket limits, from the variables the seed names. */
const LIVE_ENV = {
  WEBSOCKET_HEARTBEAT_INTERVAL: { key: 'heartbeatMs', scale: 1000, min: 1, max: 3600 },
  MAX_WEBSOCKET_CONNECTIONS: { key: 'maxConnections', scale: 1, min: 1, max: 100_000 },
} as const;

/** Reads the file (if any), then applies the environment. */
export function loadAnalyticsOptions(file: string | undefined, env: NodeJS.ProcessEnv): AgentConfig {
  let options: AnalyticsOptions = {};
  const sources: OptionSources = {};
  const server: ServerOptions = { ...DEFAULT_SERVER };
  const live: LiveOptions = { ...DEFAULT_LIVE };
  let enableAnalytics = true;
  let enableAlerting = false;
  for (const [name, { key, scale, min, max }] of Object.entries(LIVE_ENV)) {
    const text = env[name];
    if (text === undefined) continue;
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) fail(name, text, `must be a whole number from ${min} to ${max}`);
    live[key] = Number(text) * scale;
  }
  let doc: unknown;
  if (file !== undefined) {
    let text: string;
    try {
      if (fs.statSync(file).size > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new TracerError('HT_ERR_OPTION', `config ${file}: cannot be read: ${(e as Error).message}`);
    }
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new TracerError('HT_ERR_OPTION', `config ${file}: not valid JSON: ${(e as Error).message}`);
    }
    options = analyticsFromDocument(doc, `config ${file}`);
    for (const [key, fileKey] of Object.entries(FILE_KEYS)) sources[key] = `config ${file}: ${SECTION}.${fileKey}`;
    const output = (doc as { output?: Record<string, unknown> }).output ?? {};
    if (output.enable_analytics !== undefined) enableAnalytics = flag(`config ${file}: output.enable_analytics`, output.enable_analytics);
    const a = (output.analytics ?? {}) as Record<string, unknown>;
    if (a.enable_alerting !== undefined) enableAlerting = flag(`config ${file}: ${SECTION}.enable_alerting`, a.enable_alerting);
    const fileServerKeys: [string, keyof ServerOptions][] = [
      ['dashboard_port', 'port'],
      ['dashboard_address', 'address'],
      ['enable_dashboard', 'enableDashboard'],
      ['metrics_endpoint', 'metricsPath'],
    ];
    for (const [fileKey, key] of fileServerKeys) {
      if (a[fileKey] !== undefined) (server[key] as unknown) = serverOption(`config ${file}: ${SECTION}.${fileKey}`, key, a[fileKey]);
    }
  }
  for (const [name, key] of Object.entries(SERVER_ENV)) {
    const text = env[name];
    if (text === undefined) continue;
    const value = key === 'port' && /^\d+$/.test(text) ? Number(text) : text;
    (server[key] as unknown) = serverOption(name, key, value);
  }
  for (const [name, key] of Object.entries(ANALYTICS_ENV)) {
    const text = env[name];
    if (text === undefined) continue;
    if (!/^\d+$/.test(text)) fail(name, text, 'must be a whole number');
    options[key] = key === 'flushIntervalMs' ? Number(text) * 1000 : Number(text);
    sources[key] = name;
  }
  if (env.HTTP_TRACER_ENABLE_ANALYTICS !== undefined) enableAnalytics = flag('HTTP_TRACER_ENABLE_ANALYTICS', env.HTTP_TRACER_ENABLE_ANALYTICS);
  if (env.HTTP_TRACER_ANALYTICS_ENABLE_ALERTING !== undefined) enableAlerting = flag('HTTP_TRACER_ANALYTICS_ENABLE_ALERTING', env.HTTP_TRACER_ANALYTICS_ENABLE_ALERTING);
  return { options, sources, server, live, enableAnalytics, enableAlerting };
}
