/**
 * The seed's configuration file and its environment variables, turned into
 * the options of the engine, the port, its security and the live hub. The
 * environment wins over the file. Everything is checked here, before
 * anything is loaded: every problem names the key (or variable) as the user
 * wrote it, the value in the user's own units and the reason, and stops
 * start-up (exit code 2). Unknown keys at any depth are refused.
 *
 *   {"output": {"enable_analytics": true, "analytics": {
 *     "buffer_size": 10000, "worker_threads": 4, "flush_interval_seconds": 10,
 *     "window_sizes": ["1m", "5m", "15m", "1h"], "retention_hours": 24,
 *     "enabled_metrics": ["http_requests_total", ...],
 *     "route_patterns": ["/orders/:id/items"], "max_series_per_service": 1000, "max_series": 10000,
 *     "processors": ["./my-processor.js"], "duration_buckets_seconds": [0.00001, 0.000025, ..., 10],
 *     "enable_dashboard": true, "dashboard_port": 8080, "dashboard_address": "127.0.0.1", "metrics_endpoint": "/metrics",
 *     "http_max_connections": 1000,
 *     "api_token_file": "/var/run/secrets/http-tracer/token", "protect_reads": false,
 *     "allowed_origins": ["https://grafana.example"], "redact_patterns": ["/invite/[^/]+"],
 *     "enable_alerting": true, "alert_rules": [...], "notifications": [{"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9093"}], "data_dir": "/var/lib/ebpf-http-tracer" }}}
 *
 * The alerting keys are handed over raw (AgentConfig.alerting): src/alerting
 * validates rules and notification targets, and config/ imports nothing of it.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { formatDuration, parseDuration } from '../analytics/duration';
import { MAX_DURATION_BUCKETS } from '../analytics/families';
import { compileRedactPatterns } from '../capture/redact';
import { AUTO, type EngineOptions } from '../pipeline/engine-options';
import { DEFAULT_HTTP_LIMITS } from './http-limits';
import { DEFAULT_LIVE, type LiveOptions } from './live-options';
import { readApiToken, readRegularFile } from './api-token';
import { refuseUnknownKeys } from './config-keys';
import { ascendingBounds, fail, flag, integer, isObject, refuse, strings, wholeNumber } from './validate';

export type AnalyticsOptions = Omit<EngineOptions, 'clockOffsetMs' | 'now'>;

/** Where each option came from, for messages: option key → "config FILE: output.analytics.worker_threads" or a variable name. */
export type OptionSources = Record<string, string>;

/** Configuration files are small; anything larger is a mistake. */
const MAX_CONFIG_BYTES = 1 << 20;
const SECTION = 'output.analytics';

/** The agent's one port: where it listens, what it serves. */
export interface ServerOptions {
  port: number;
  /** Default 127.0.0.1 (this machine only); a DaemonSet sets 0.0.0.0 to be scraped. */
  address: string;
  enableDashboard: boolean;
  metricsPath: string;
  /** Sockets open at once on the port. */
  maxConnections: number;
}

export const DEFAULT_SERVER: ServerOptions = { port: 8080, address: '127.0.0.1', enableDashboard: true, metricsPath: '/metrics', maxConnections: DEFAULT_HTTP_LIMITS.maxConnections };

/** Who may read and write through the port, and what captured data may show (the REST API, /metrics and the live hub read it). */
export interface SecurityOptions {
  /** The bearer token; undefined: none (then nothing is guarded). */
  token?: string;
  /** With a token: reads (the REST API, /metrics) need it too. */
  protectReads: boolean;
  /** Browser origins allowed besides the agent's own ("https://grafana.example:3000"). */
  allowedOrigins: string[];
  /** Regular expressions; their matches in captured paths are shown as {redacted}. */
  redactPatterns: string[];
}

/** The default home of what survives a restart: the database (alert rules, incidents), the forwarding queues. */
export const DEFAULT_DATA_DIR = '/var/lib/ebpf-http-tracer';

/**
 * The alerting engine's part of the configuration, as the user wrote it:
 * src/alerting validates the rules and the notification targets (messages
 * name them with rulesSource and notificationsWhere); only the switch and
 * the data directory are checked here.
 */
export interface AlertingConfig {
  /** output.analytics.enable_alerting / HTTP_TRACER_ANALYTICS_ENABLE_ALERTING; default true (rules created through the API need it). */
  enabled: boolean;
  /** output.analytics.alert_rules, unvalidated; [] when absent. */
  rules: unknown[];
  /** Where the rules came from, for messages: "config /etc/http-tracer.json" ("no configuration file" when there is none, and no rules). */
  rulesSource: string;
  /** output.analytics.notifications, unvalidated; undefined when absent. */
  notifications: unknown;
  /** "config FILE: output.analytics.notifications", for messages. */
  notificationsWhere: string;
}

/** Where state that survives a restart lives (src/storage, the forwarding queues). */
export interface DataDirConfig {
  /** An absolute path: --data-dir, else HTTP_TRACER_DATA_DIR, else output.analytics.data_dir, else DEFAULT_DATA_DIR. */
  dir: string;
  /** "--data-dir", "HTTP_TRACER_DATA_DIR", "config FILE: output.analytics.data_dir" or "default". */
  source: string;
}

/** output.forwarding as the user wrote it: src/exporters/forwarding-config.ts checks it (with the HTTP_TRACER_FORWARD_* variables). */
export interface ForwardingSection {
  raw: unknown;
  /** "config FILE: output.forwarding", for messages. */
  where: string;
}

/** What the command line sets over the file and the variables. */
export interface CliOverrides {
  /** --data-dir: relative paths are taken from the current directory. */
  dataDir?: string;
}

export interface AgentConfig {
  options: AnalyticsOptions;
  /** Where each engine option and each server option ("server.port", …) came from. */
  sources: OptionSources;
  server: ServerOptions;
  security: SecurityOptions;
  live: LiveOptions;
  /** output.enable_analytics / HTTP_TRACER_ENABLE_ANALYTICS: false makes `run` a plain tracer. */
  enableAnalytics: boolean;
  alerting: AlertingConfig;
  data: DataDirConfig;
  forwarding: ForwardingSection;
}

function duration(where: string, text: unknown): number {
  const ms = parseDuration(text);
  if (ms === undefined) fail(where, text, 'is not a duration (a positive whole number and s, m, h or d: "30s", "5m", "1h")');
  return ms as number;
}

const FLUSH_SECONDS = { min: 1, max: 3600 };
const DEFAULT_RETENTION_MS = 86_400_000;
/** The engine keeps 1 minute to 30 days. */
const RETENTION_HOURS = { min: 1 / 60, max: 720 };

/** Option key → the file's key, for messages about options the engine checks. */
const FILE_KEYS: Record<string, string> = {
  bufferSize: 'buffer_size',
  workerThreads: 'worker_threads',
  flushIntervalMs: 'flush_interval_seconds',
  windowSizesMs: 'window_sizes',
  retentionMs: 'retention_hours',
  enabledMetrics: 'enabled_metrics',
  routePatterns: 'route_patterns',
  processorModules: 'processors',
  durationBucketsSeconds: 'duration_buckets_seconds',
  'seriesLimits.perService': 'max_series_per_service',
  'seriesLimits.global': 'max_series',
  'seriesLimits.services': 'max_services',
  'seriesLimits.idleMs': 'series_idle_minutes',
};

/** The engine's part of the analytics section (keys already known to exist). */
function engineOptions(a: Record<string, unknown>, at: (key: string) => string): AnalyticsOptions {
  const options: AnalyticsOptions = {};
  if (a.buffer_size !== undefined) options.bufferSize = integer(at('buffer_size'), a.buffer_size);
  if (a.worker_threads !== undefined) options.workerThreads = workerThreads(at('worker_threads'), a.worker_threads);
  if (a.flush_interval_seconds !== undefined) options.flushIntervalMs = integer(at('flush_interval_seconds'), a.flush_interval_seconds, FLUSH_SECONDS.min, FLUSH_SECONDS.max, ' seconds') * 1000;
  if (a.window_sizes !== undefined) options.windowSizesMs = strings(at('window_sizes'), a.window_sizes).map((w, i) => duration(at(`window_sizes[${i}]`), w));
  if (a.retention_hours !== undefined) {
    const hours = a.retention_hours;
    if (typeof hours !== 'number' || !(hours >= RETENTION_HOURS.min && hours <= RETENTION_HOURS.max)) {
      fail(at('retention_hours'), hours, `must be a number of hours from ${RETENTION_HOURS.min.toFixed(4)} (1 minute) to ${RETENTION_HOURS.max} (30 days)`);
    }
    options.retentionMs = Math.round(hours * 3_600_000);
  }
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  (a.window_sizes as string[] | undefined)?.forEach((w, i) => {
    if (options.windowSizesMs![i] > retentionMs) fail(at(`window_sizes[${i}]`), w, `is longer than the retention (${formatDuration(retentionMs)})`);
  });
  if (a.enabled_metrics !== undefined) options.enabledMetrics = strings(at('enabled_metrics'), a.enabled_metrics);
  if (a.route_patterns !== undefined) options.routePatterns = strings(at('route_patterns'), a.route_patterns);
  if (a.redact_patterns !== undefined) options.redactPatterns = strings(at('redact_patterns'), a.redact_patterns).map((p, i) => redactPattern(at(`redact_patterns[${i}]`), p));
  if (a.processors !== undefined) options.processorModules = strings(at('processors'), a.processors);
  if (a.duration_buckets_seconds !== undefined) options.durationBucketsSeconds = ascendingBounds(at('duration_buckets_seconds'), a.duration_buckets_seconds, MAX_DURATION_BUCKETS);
  const limits: NonNullable<AnalyticsOptions['seriesLimits']> = {};
  if (a.max_series_per_service !== undefined) limits.perService = integer(at('max_series_per_service'), a.max_series_per_service);
  if (a.max_series !== undefined) limits.global = integer(at('max_series'), a.max_series);
  if (a.max_services !== undefined) limits.services = integer(at('max_services'), a.max_services);
  if (a.series_idle_minutes !== undefined) {
    const maxMinutes = retentionMs / 60_000;
    limits.idleMs = integer(at('series_idle_minutes'), a.series_idle_minutes, 1, maxMinutes, ` minutes (at most the retention, ${formatDuration(retentionMs)})`) * 60_000;
  }
  if (Object.keys(limits).length > 0) options.seriesLimits = limits;
  return options;
}

/** The analytics section of a parsed configuration document (engine options only). */
export function analyticsFromDocument(doc: unknown, source: string): AnalyticsOptions {
  return engineOptions(sectionOf(doc, source).analytics, (key) => `${source}: ${SECTION}.${key}`);
}

function sectionOf(doc: unknown, source: string): { output: Record<string, unknown>; analytics: Record<string, unknown> } {
  if (!isObject(doc)) fail(source, doc, 'must be a JSON object');
  refuseUnknownKeys(doc, source);
  const output = doc.output ?? {};
  if (!isObject(output)) fail(`${source}: output`, output, 'must be an object');
  const analytics = output.analytics ?? {};
  if (!isObject(analytics)) fail(`${source}: ${SECTION}`, analytics, 'must be an object');
  return { output, analytics };
}

/** The configuration file, parsed; a FIFO, a directory or a device is refused without being opened. */
function readDocument(file: string): unknown {
  const text = readRegularFile(`config ${file}`, file, MAX_CONFIG_BYTES);
  try {
    return JSON.parse(text);
  } catch (e) {
    refuse(`config ${file}`, `not valid JSON: ${(e as Error).message}`);
  }
}

const METRICS_PATH = /^\/[A-Za-z0-9._~/-]*$/;

function origin(where: string, v: unknown): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof v === 'string' ? new URL(v) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== v) fail(where, v, 'must be an origin as browsers send it: scheme://host[:port], no path (e.g. "https://grafana.example:3000")');
  return v as string;
}

function redactPattern(where: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') fail(where, v, 'must be a regular expression (a non-empty string)');
  let re: RegExp;
  try {
    [re] = compileRedactPatterns([v as string]);
  } catch (e) {
    return fail(where, v, `is not a regular expression: ${(e as Error).message.replace(/^redact pattern "[^"]*": /, '')}`);
  }
  if (re.test('')) fail(where, v, 'matches the empty string (it would redact between every character)');
  return v as string;
}

/** A data directory from the file or a variable: an absolute path (the agent's working directory is not the user's). */
function dataDir(where: string, v: unknown): string {
  if (typeof v !== 'string' || v === '' || v.includes('\0')) fail(where, v, 'must be a directory path');
  if (!path.isAbsolute(v as string)) fail(where, v, 'must be an absolute path (e.g. /var/lib/ebpf-http-tracer)');
  return path.normalize(v as string);
}

/** Reads the file (if any), then applies the environment, then the command line's overrides. */
export function loadAnalyticsOptions(file: string | undefined, env: NodeJS.ProcessEnv, cli: CliOverrides = {}): AgentConfig {
  const sources: OptionSources = {};
  const server: ServerOptions = { ...DEFAULT_SERVER };
  const live: LiveOptions = { ...DEFAULT_LIVE };
  const security: SecurityOptions = { protectReads: false, allowedOrigins: [], redactPatterns: [] };
  let options: AnalyticsOptions = {};
  let enableAnalytics = true;
  const alerting: AlertingConfig = {
    enabled: true,
    rules: [],
    rulesSource: 'no configuration file',
    notifications: undefined,
    notificationsWhere: `${SECTION}.notifications`,
  };
  const data: DataDirConfig = { dir: DEFAULT_DATA_DIR, source: 'default' };
  const forwarding: ForwardingSection = { raw: undefined, where: 'output.forwarding' };
  for (const [key, fileKey] of [['port', 'dashboard_port'], ['address', 'dashboard_address'], ['metricsPath', 'metrics_endpoint']]) {
    sources[`server.${key}`] = `${SECTION}.${fileKey} (default)`;
  }
  let tokenFile: { where: string; path: unknown } | undefined;

  if (file !== undefined) {
    const source = `config ${file}`;
    const { output, analytics: a } = sectionOf(readDocument(file), source);
    const at = (key: string): string => `${source}: ${SECTION}.${key}`;
    options = engineOptions(a, at);
    for (const [key, fileKey] of Object.entries(FILE_KEYS)) sources[key] = at(fileKey);
    if (output.enable_analytics !== undefined) enableAnalytics = flag(`${source}: output.enable_analytics`, output.enable_analytics);
    if (a.enable_alerting !== undefined) alerting.enabled = flag(at('enable_alerting'), a.enable_alerting);
    if (a.alert_rules !== undefined && !Array.isArray(a.alert_rules)) fail(at('alert_rules'), a.alert_rules, 'must be an array of rules');
    alerting.rules = (a.alert_rules as unknown[] | undefined) ?? [];
    alerting.rulesSource = source;
    alerting.notifications = a.notifications;
    alerting.notificationsWhere = at('notifications');
    if (a.data_dir !== undefined) data.dir = dataDir((data.source = at('data_dir')), a.data_dir);
    forwarding.raw = output.forwarding;
    forwarding.where = `${source}: output.forwarding`;
    if (a.dashboard_port !== undefined) server.port = integer((sources['server.port'] = at('dashboard_port')), a.dashboard_port, 1, 65535);
    if (a.dashboard_address !== undefined) server.address = address((sources['server.address'] = at('dashboard_address')), a.dashboard_address);
    if (a.enable_dashboard !== undefined) server.enableDashboard = flag(at('enable_dashboard'), a.enable_dashboard);
    if (a.metrics_endpoint !== undefined) server.metricsPath = metricsPath((sources['server.metricsPath'] = at('metrics_endpoint')), a.metrics_endpoint);
    if (a.http_max_connections !== undefined) server.maxConnections = integer(at('http_max_connections'), a.http_max_connections, 1, 100_000);
    if (a.protect_reads !== undefined) security.protectReads = flag(at('protect_reads'), a.protect_reads);
    if (a.allowed_origins !== undefined) security.allowedOrigins = strings(at('allowed_origins'), a.allowed_origins).map((o, i) => origin(at(`allowed_origins[${i}]`), o));
    if (a.api_token_file !== undefined) tokenFile = { where: at('api_token_file'), path: a.api_token_file };
  }

  const text = (name: string): string | undefined => env[name];
  let v: string | undefined;
  if ((v = text('HTTP_TRACER_ANALYTICS_DASHBOARD_PORT')) !== undefined) server.port = wholeNumber((sources['server.port'] = 'HTTP_TRACER_ANALYTICS_DASHBOARD_PORT'), v, 1, 65535);
  if ((v = text('HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS')) !== undefined) server.address = address((sources['server.address'] = 'HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS'), v);
  if ((v = text('HTTP_TRACER_ANALYTICS_ENABLE_DASHBOARD')) !== undefined) server.enableDashboard = flag('HTTP_TRACER_ANALYTICS_ENABLE_DASHBOARD', v);
  if ((v = text('HTTP_TRACER_HTTP_MAX_CONNECTIONS')) !== undefined) server.maxConnections = wholeNumber('HTTP_TRACER_HTTP_MAX_CONNECTIONS', v, 1, 100_000);
  if ((v = text('HTTP_TRACER_ANALYTICS_BUFFER_SIZE')) !== undefined) options.bufferSize = wholeNumber((sources.bufferSize = 'HTTP_TRACER_ANALYTICS_BUFFER_SIZE'), v, 0, Number.MAX_SAFE_INTEGER);
  if ((v = text('HTTP_TRACER_ANALYTICS_WORKER_THREADS')) !== undefined) {
    const where = (sources.workerThreads = 'HTTP_TRACER_ANALYTICS_WORKER_THREADS');
    if (v.trim() === AUTO) options.workerThreads = AUTO;
    else if (!/^\d+$/.test(v)) fail(where, v, `must be a whole number${WORKER_THREADS_HINT}`);
    else options.workerThreads = wholeNumber(where, v, 0, Number.MAX_SAFE_INTEGER);
  }
  if ((v = text('HTTP_TRACER_ANALYTICS_FLUSH_INTERVAL_SECONDS')) !== undefined) {
    options.flushIntervalMs = wholeNumber((sources.flushIntervalMs = 'HTTP_TRACER_ANALYTICS_FLUSH_INTERVAL_SECONDS'), v, FLUSH_SECONDS.min, FLUSH_SECONDS.max, ' seconds') * 1000;
  }
  if ((v = text('HTTP_TRACER_ANALYTICS_DURATION_BUCKETS_SECONDS')) !== undefined) {
    // "0.0001,0.001,0.01": numbers as written; anything else is shown as the text it was.
    const bounds = v.split(',').map((b) => (b.trim() !== '' && Number.isFinite(Number(b)) ? Number(b) : b.trim()));
    options.durationBucketsSeconds = ascendingBounds((sources.durationBucketsSeconds = 'HTTP_TRACER_ANALYTICS_DURATION_BUCKETS_SECONDS'), bounds, MAX_DURATION_BUCKETS);
  }
  if ((v = text('HTTP_TRACER_ENABLE_ANALYTICS')) !== undefined) enableAnalytics = flag('HTTP_TRACER_ENABLE_ANALYTICS', v);
  if ((v = text('HTTP_TRACER_ANALYTICS_ENABLE_ALERTING')) !== undefined) alerting.enabled = flag('HTTP_TRACER_ANALYTICS_ENABLE_ALERTING', v);
  if ((v = text('HTTP_TRACER_DATA_DIR')) !== undefined) data.dir = dataDir((data.source = 'HTTP_TRACER_DATA_DIR'), v);
  if ((v = text('HTTP_TRACER_PROTECT_READS')) !== undefined) security.protectReads = flag('HTTP_TRACER_PROTECT_READS', v);
  if ((v = text('HTTP_TRACER_ALLOWED_ORIGINS')) !== undefined) {
    security.allowedOrigins = v
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '')
      .map((o) => origin('HTTP_TRACER_ALLOWED_ORIGINS', o));
  }
  // The WebSocket limits, from the variables seed 000 names.
  if ((v = text('WEBSOCKET_HEARTBEAT_INTERVAL')) !== undefined) live.heartbeatMs = wholeNumber('WEBSOCKET_HEARTBEAT_INTERVAL', v, 1, 3600, ' seconds') * 1000;
  if ((v = text('MAX_WEBSOCKET_CONNECTIONS')) !== undefined) live.maxConnections = wholeNumber('MAX_WEBSOCKET_CONNECTIONS', v, 1, 100_000);

  // One set of patterns: for routes (REST, /metrics) and for the live stream's targets.
  security.redactPatterns = options.redactPatterns ?? [];
  security.token = readApiToken(env, tokenFile);
  if (security.protectReads && security.token === undefined) {
    refuse('protect_reads', 'needs an API token (HTTP_TRACER_API_TOKEN, HTTP_TRACER_API_TOKEN_FILE or output.analytics.api_token_file)');
  }
  if (cli.dataDir !== undefined) {
    // As with --config, a relative path is the user's, from where they typed it.
    data.dir = dataDir((data.source = '--data-dir'), cli.dataDir === '' ? cli.dataDir : path.resolve(cli.dataDir));
  }
  return { options, sources, server, security, live, enableAnalytics, alerting, data, forwarding };
}

/** What worker_threads takes, said in every message about it (the default included). */
const WORKER_THREADS_HINT = ', or "auto" (the default: one fewer than the cores, from 1 to 4)';

/** worker_threads: an integer (the engine checks its range), or "auto". */
function workerThreads(where: string, v: unknown): number | typeof AUTO {
  if (v === AUTO) return AUTO;
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(where, v, `must be an integer${WORKER_THREADS_HINT}`);
  return v as number;
}

function address(where: string, v: unknown): string {
  if (typeof v !== 'string' || !isIP(v)) fail(where, v, 'must be an IPv4 or IPv6 address (0.0.0.0 for all interfaces)');
  return v as string;
}

function metricsPath(where: string, v: unknown): string {
  if (typeof v !== 'string' || !METRICS_PATH.test(v) || v.length > 256) fail(where, v, 'must be a path such as /metrics');
  return v as string;
}
