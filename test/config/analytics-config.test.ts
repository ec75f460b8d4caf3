/**
 * The seed's configuration file and variables, as the engine reads them:
 * the seed's example as written, the environment winning over the file, and
 * every bad value named by its key or variable.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadAnalyticsOptions } from '../../src/config/analytics-config';
import { Engine } from '../../src/pipeline/engine';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: unknown): string {
  const p = path.join(dir, `c${n++}.json`);
  fs.writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

/** The seed's "Basic Configuration" (002), verbatim. */
const SEED = {
  output: {
    enable_analytics: true,
    analytics: {
      buffer_size: 10000,
      worker_threads: 4,
      flush_interval_seconds: 10,
      window_sizes: ['1m', '5m', '15m', '1h'],
      retention_hours: 24,
      enabled_metrics: ['http_requests_total', 'http_request_duration', 'http_response_size', 'network_bytes_total', 'error_rate'],
      enable_alerting: true,
      alert_rules: [
        {
          name: 'high_error_rate',
          metric: 'http_errors_total_rate',
          condition: 'gt',
          threshold: 10.0,
          duration_seconds: 300,
          labels: { severity: 'warning' },
          annotations: { description: 'High HTTP error rate detected' },
        },
      ],
      enable_dashboard: true,
      dashboard_port: 8080,
      metrics_endpoint: '/metrics',
    },
  },
};

t.test("the seed's example configures the engine", async (t) => {
  const { options } = loadAnalyticsOptions(file(SEED), {});
  t.same(options, {
    bufferSize: 10000,
    workerThreads: 4,
    flushIntervalMs: 10_000,
    windowSizesMs: [60_000, 300_000, 900_000, 3_600_000],
    retentionMs: 86_400_000,
    enabledMetrics: ['http_requests_total', 'http_request_duration', 'http_response_size', 'network_bytes_total', 'error_rate'],
  });
  const engine = await Engine.start({ ...options, clockOffsetMs: 0 });
  t.teardown(() => engine.stop());
  t.same(
    [...engine.options.enabledFamilies].sort(),
    ['http_errors_total', 'http_request_duration_seconds', 'http_requests_total', 'http_response_size_bytes', 'network_bytes_total'],
    'enabled_metrics names map to families',
  );
  t.equal(engine.stats().workerThreads, 4);
});

t.test("the server's port, address and paths: the seed's keys, our address key, the variables", async (t) => {
  const defaults = { port: 8080, address: '127.0.0.1', enableDashboard: true, metricsPath: '/metrics', maxConnections: 1000 };
  t.same(loadAnalyticsOptions(file(SEED), {}).server, defaults, "the seed's example");
  t.same(loadAnalyticsOptions(undefined, {}).server, defaults, 'defaults: this machine only');
  const p = file({ output: { analytics: { dashboard_port: 9100, dashboard_address: '::1', enable_dashboard: false, metrics_endpoint: '/prom/metrics', http_max_connections: 50 } } });
  t.same(loadAnalyticsOptions(p, {}).server, { port: 9100, address: '::1', enableDashboard: false, metricsPath: '/prom/metrics', maxConnections: 50 });
  const env = { HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: '9200', HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '0.0.0.0', HTTP_TRACER_ANALYTICS_ENABLE_DASHBOARD: 'true', HTTP_TRACER_HTTP_MAX_CONNECTIONS: '70' };
  t.same(loadAnalyticsOptions(p, env).server, { port: 9200, address: '0.0.0.0', enableDashboard: true, metricsPath: '/prom/metrics', maxConnections: 70 }, 'variables win');
  const { sources } = loadAnalyticsOptions(p, env);
  t.same([sources['server.port'], sources['server.metricsPath']], ['HTTP_TRACER_ANALYTICS_DASHBOARD_PORT', `config ${p}: output.analytics.metrics_endpoint`], 'where each came from, for later messages');
  const bad: [Record<string, unknown>, Record<string, string>, string][] = [
    [{ dashboard_port: 70000 }, {}, 'output.analytics.dashboard_port: 70000 must be from 1 to 65535'],
    [{ dashboard_address: 'localhost' }, {}, 'output.analytics.dashboard_address: "localhost" must be an IPv4 or IPv6 address'],
    [{ enable_dashboard: 'yes' }, {}, 'output.analytics.enable_dashboard: "yes" must be true or false'],
    [{ metrics_endpoint: 'metrics' }, {}, 'output.analytics.metrics_endpoint: "metrics" must be a path such as /metrics'],
    [{}, { HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: '80a' }, 'HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: "80a" must be a whole number'],
    [{}, { HTTP_TRACER_ANALYTICS_ENABLE_DASHBOARD: '1' }, 'HTTP_TRACER_ANALYTICS_ENABLE_DASHBOARD: "1" must be true or false'],
  ];
  for (const [analytics, vars, message] of bad) {
    t.throws(() => loadAnalyticsOptions(file({ output: { analytics } }), vars), { code: 'HT_ERR_OPTION', message: new RegExp(message.replace(/[[\]().*+?{}|^$]/g, '\\$&')) }, message);
  }
});

t.test('enable_analytics and enable_alerting, from the file and the variables', async (t) => {
  const seed = loadAnalyticsOptions(file(SEED), {});
  t.same([seed.enableAnalytics, seed.alerting.enabled], [true, true], "the seed's example");
  const off = loadAnalyticsOptions(file({ output: { enable_analytics: false } }), {});
  t.same([off.enableAnalytics, off.alerting.enabled], [false, true], 'alerting is on unless switched off (rules created through the API need it)');
  t.equal(loadAnalyticsOptions(file({ output: { analytics: { enable_alerting: false } } }), {}).alerting.enabled, false);
  const env = loadAnalyticsOptions(file(SEED), { HTTP_TRACER_ENABLE_ANALYTICS: 'false', HTTP_TRACER_ANALYTICS_ENABLE_ALERTING: 'false' });
  t.same([env.enableAnalytics, env.alerting.enabled], [false, false], 'variables win');
  t.throws(() => loadAnalyticsOptions(undefined, { HTTP_TRACER_ENABLE_ANALYTICS: 'yes' }), { message: 'HTTP_TRACER_ENABLE_ANALYTICS: "yes" must be true or false' });
  t.throws(() => loadAnalyticsOptions(file({ output: { enable_analytics: 1 } }), {}), { message: /output\.enable_analytics: 1 must be true or false/ });
});

t.test('the alerting section is handed over raw, with where it came from', async (t) => {
  const p = file(SEED);
  const seed = loadAnalyticsOptions(p, {}).alerting;
  t.same(seed.rules, SEED.output.analytics.alert_rules, 'the rules as written (src/alerting validates them)');
  t.equal(seed.rulesSource, `config ${p}`);
  t.equal(seed.notifications, undefined);
  t.equal(seed.notificationsWhere, `config ${p}: output.analytics.notifications`);
  const notifications = { alertmanager: { url: 'http://127.0.0.1:9093' }, anything: ['the alerting code judges it'] };
  t.same(loadAnalyticsOptions(file({ output: { analytics: { notifications } } }), {}).alerting.notifications, notifications);
  t.same(loadAnalyticsOptions(undefined, {}).alerting, {
    enabled: true,
    rules: [],
    rulesSource: 'no configuration file',
    notifications: undefined,
    notificationsWhere: 'output.analytics.notifications',
  }, 'defaults');
  t.same(loadAnalyticsOptions(undefined, {}).data, { dir: '/var/lib/ebpf-http-tracer', source: 'default' }, 'the data directory by default');
  t.throws(() => loadAnalyticsOptions(file({ output: { analytics: { alert_rules: { name: 'x' } } } }), {}), { code: 'HT_ERR_OPTION', message: /output\.analytics\.alert_rules: \{"name":"x"\} must be an array of rules/ });
});

t.test('the forwarding section is handed over as written, with where it stands', async (t) => {
  const forwarding = { targets: [{ name: 'rw', type: 'remote_write', url: 'http://127.0.0.1:9090/api/v1/write' }] };
  const p = file({ output: { forwarding } });
  t.same(loadAnalyticsOptions(p, {}).forwarding, { raw: forwarding, where: `config ${p}: output.forwarding` });
  t.same(loadAnalyticsOptions(undefined, {}).forwarding, { raw: undefined, where: 'output.forwarding' });
});

t.test('the data directory: --data-dir, then HTTP_TRACER_DATA_DIR, then data_dir, then the default; absolute paths only', async (t) => {
  const p = file({ output: { analytics: { data_dir: '/srv/tracer' } } });
  const where = (f: string | undefined, env: Record<string, string>, dataDir?: string) => {
    const d = loadAnalyticsOptions(f, env, { dataDir }).data;
    return [d.dir, d.source];
  };
  t.same(where(p, {}), ['/srv/tracer', `config ${p}: output.analytics.data_dir`]);
  t.same(where(p, { HTTP_TRACER_DATA_DIR: '/data/' }), ['/data/', 'HTTP_TRACER_DATA_DIR']);
  t.same(where(p, { HTTP_TRACER_DATA_DIR: '/data' }, '/cli'), ['/cli', '--data-dir']);
  t.same(where(undefined, {}, 'rel/dir'), [path.resolve('rel/dir'), '--data-dir'], 'a relative --data-dir is taken from the current directory');
  const cases: [string | undefined, Record<string, string>, string | undefined, string][] = [
    [file({ output: { analytics: { data_dir: 'data' } } }), {}, undefined, 'output.analytics.data_dir: "data" must be an absolute path'],
    [file({ output: { analytics: { data_dir: 7 } } }), {}, undefined, 'output.analytics.data_dir: 7 must be a directory path'],
    [undefined, { HTTP_TRACER_DATA_DIR: './data' }, undefined, 'HTTP_TRACER_DATA_DIR: "./data" must be an absolute path'],
    [undefined, { HTTP_TRACER_DATA_DIR: '' }, undefined, 'HTTP_TRACER_DATA_DIR: "" must be a directory path'],
    [undefined, {}, '', '--data-dir: "" must be a directory path'],
  ];
  for (const [f, env, dataDir, message] of cases) {
    t.throws(() => loadAnalyticsOptions(f, env, { dataDir }), { code: 'HT_ERR_OPTION', message: new RegExp(message.replace(/[[\]().*+?{}|^$]/g, '\\$&')) }, message);
  }
});

t.test('the environment wins over the file', async (t) => {
  const env = { HTTP_TRACER_ANALYTICS_BUFFER_SIZE: '500', HTTP_TRACER_ANALYTICS_WORKER_THREADS: '2', HTTP_TRACER_ANALYTICS_FLUSH_INTERVAL_SECONDS: '5' };
  const { options, sources } = loadAnalyticsOptions(file(SEED), env);
  t.same([options.bufferSize, options.workerThreads, options.flushIntervalMs], [500, 2, 5000]);
  t.equal(sources.workerThreads, 'HTTP_TRACER_ANALYTICS_WORKER_THREADS');
  t.same(loadAnalyticsOptions(undefined, env).options, { bufferSize: 500, workerThreads: 2, flushIntervalMs: 5000 }, 'variables without a file');
  t.same(loadAnalyticsOptions(undefined, {}).options, {}, 'nothing given: engine defaults');
});

t.test('bad files and values are named by key, value and reason', async (t) => {
  const analytics = (a: Record<string, unknown>) => file({ output: { analytics: a } });
  const cases: [string, string][] = [
    [file('{"output": '), 'not valid JSON'],
    [file('[1]'), ': [1] must be a JSON object'],
    [file({ output: [] }), ': output: [] must be an object'],
    [analytics({ worker_threads: 'four' }), 'output.analytics.worker_threads: "four" must be an integer'],
    [analytics({ window_sizes: ['1m', '90 seconds'] }), 'output.analytics.window_sizes[1]: "90 seconds" is not a duration'],
    [analytics({ window_sizes: '1m' }), 'output.analytics.window_sizes: "1m" must be an array of strings'],
    [analytics({ retention_hours: -1 }), 'output.analytics.retention_hours: -1 must be a number of hours from 0.0167 (1 minute) to 720 (30 days)'],
    [analytics({ workers: 4 }), 'output.analytics.workers: is not a known key (known here: buffer_size, '],
    [path.join(dir, 'missing.json'), 'cannot be read: ENOENT'],
  ];
  for (const [p, message] of cases) {
    t.throws(() => loadAnalyticsOptions(p, {}), { code: 'HT_ERR_OPTION', message: new RegExp(message.replace(/[[\]().*+?{}|^$]/g, '\\$&')) }, message);
  }
  t.throws(() => loadAnalyticsOptions(undefined, { HTTP_TRACER_ANALYTICS_WORKER_THREADS: '2x' }), { message: 'HTTP_TRACER_ANALYTICS_WORKER_THREADS: "2x" must be a whole number' });
});

t.test('range errors found by the engine still name the key or variable', async (t) => {
  const p = file({ output: { analytics: { worker_threads: 0, window_sizes: ['1m', '100m'] } } });
  const { options, sources } = loadAnalyticsOptions(p, {});
  await t.rejects(Engine.start({ ...options, clockOffsetMs: 0 }, sources), { message: `config ${p}: output.analytics.worker_threads: 0 must be an integer in [1, 64]` });
  const windows = loadAnalyticsOptions(file({ output: { analytics: { window_sizes: ['1m', '100m'] } } }), {});
  await t.rejects(Engine.start({ ...windows.options, clockOffsetMs: 0 }, windows.sources), { message: /output\.analytics\.window_sizes\[1\]: 100m is not a multiple of 15m/ });
  const env = loadAnalyticsOptions(undefined, { HTTP_TRACER_ANALYTICS_BUFFER_SIZE: '0' });
  await t.rejects(Engine.start({ ...env.options, clockOffsetMs: 0 }, env.sources), { message: 'HTTP_TRACER_ANALYTICS_BUFFER_SIZE: 0 must be an integer in [1, 10000000]' });
});

t.test('unknown keys at any depth are refused, with the nearest known key', async (t) => {
  const cases: [unknown, string][] = [
    [{ outptu: { analytics: { dashboard_address: '0.0.0.0' } } }, ': outptu: is not a known key; did you mean "output"? (known here: output)'],
    [{ output: { enable_analytic: true } }, ': output.enable_analytic: is not a known key; did you mean "enable_analytics"?'],
    [{ output: { analytics: { dashbaord_port: 9000 } } }, ': output.analytics.dashbaord_port: is not a known key; did you mean "dashboard_port"?'],
    [{ output: { analytics: { retention: 24 } } }, ': output.analytics.retention: is not a known key (known here: buffer_size'],
    [{ input: {} }, ': input: is not a known key (known here: output)'],
  ];
  for (const [doc, message] of cases) {
    t.throws(() => loadAnalyticsOptions(file(doc), {}), { code: 'HT_ERR_OPTION', message: new RegExp(message.replace(/[[\]().*+?{}|^$]/g, '\\$&')) }, message);
  }
});

t.test('a FIFO, a directory or a device as the file is refused without opening it', async (t) => {
  const fifo = path.join(dir, 'fifo.json');
  spawnSync('mkfifo', [fifo]);
  t.throws(() => loadAnalyticsOptions(fifo, {}), { message: `config ${fifo}: ${JSON.stringify(fifo)} is not a regular file (a FIFO)` });
  t.throws(() => loadAnalyticsOptions(dir, {}), { message: `config ${dir}: ${JSON.stringify(dir)} is not a regular file (a directory)` });
  t.throws(() => loadAnalyticsOptions('/dev/null', {}), { message: 'config /dev/null: "/dev/null" is not a regular file (a device or socket)' });
});

t.test('the API token, origins and redaction patterns', async (t) => {
  const token = 'x'.repeat(20);
  t.same(loadAnalyticsOptions(undefined, {}).security, { protectReads: false, allowedOrigins: [], redactPatterns: [], token: undefined }, 'default: no token, same origin only');
  t.equal(loadAnalyticsOptions(undefined, { HTTP_TRACER_API_TOKEN: `  ${token}\n` }).security.token, token, 'trimmed');
  const secret = path.join(dir, 'token');
  fs.writeFileSync(secret, `${token}-file\n`);
  t.equal(loadAnalyticsOptions(undefined, { HTTP_TRACER_API_TOKEN_FILE: secret }).security.token, `${token}-file`, 'from a file (a Kubernetes secret)');
  const p = file({ output: { analytics: { api_token_file: secret, protect_reads: true, allowed_origins: ['https://grafana.example:3000'], redact_patterns: ['/invite/[^/]+'] } } });
  t.same(loadAnalyticsOptions(p, {}).security, { token: `${token}-file`, protectReads: true, allowedOrigins: ['https://grafana.example:3000'], redactPatterns: ['/invite/[^/]+'] });
  t.same(loadAnalyticsOptions(p, { HTTP_TRACER_ALLOWED_ORIGINS: 'http://a.example, http://b.example:81', HTTP_TRACER_PROTECT_READS: 'false' }).security.allowedOrigins, ['http://a.example', 'http://b.example:81'], 'variables win');
  const cases: [string | undefined, Record<string, string>, string][] = [
    [undefined, { HTTP_TRACER_API_TOKEN: 'short' }, 'HTTP_TRACER_API_TOKEN: the token must be at least 16 characters (it has 5)'],
    [undefined, { HTTP_TRACER_API_TOKEN: '   ' }, 'HTTP_TRACER_API_TOKEN: the token must be at least 16 characters (it has 0)'],
    [undefined, { HTTP_TRACER_API_TOKEN: 'sixteen chars and spaces' }, 'HTTP_TRACER_API_TOKEN: the token must be visible ASCII characters without spaces'],
    [undefined, { HTTP_TRACER_API_TOKEN: token, HTTP_TRACER_API_TOKEN_FILE: secret }, 'HTTP_TRACER_API_TOKEN_FILE: set either HTTP_TRACER_API_TOKEN or HTTP_TRACER_API_TOKEN_FILE, not both'],
    [undefined, { HTTP_TRACER_API_TOKEN_FILE: path.join(dir, 'nope') }, `HTTP_TRACER_API_TOKEN_FILE: ${JSON.stringify(path.join(dir, 'nope'))} cannot be read: ENOENT`],
    [undefined, { HTTP_TRACER_PROTECT_READS: 'true' }, 'protect_reads: needs an API token'],
    [undefined, { HTTP_TRACER_ALLOWED_ORIGINS: 'https://a.example/' }, 'HTTP_TRACER_ALLOWED_ORIGINS: "https://a.example/" must be an origin as browsers send it'],
    [file({ output: { analytics: { allowed_origins: ['*'] } } }), {}, 'output.analytics.allowed_origins[0]: "*" must be an origin'],
    [file({ output: { analytics: { redact_patterns: ['/ok', '(unclosed'] } } }), {}, 'output.analytics.redact_patterns[1]: "(unclosed" is not a regular expression: Invalid regular expression'],
    [file({ output: { analytics: { redact_patterns: ['x*'] } } }), {}, 'output.analytics.redact_patterns[0]: "x*" matches the empty string'],
    [file({ output: { analytics: { api_token_file: dir } } }), {}, `output.analytics.api_token_file: ${JSON.stringify(dir)} is not a regular file (a directory)`],
  ];
  for (const [p2, env, message] of cases) {
    t.throws(() => loadAnalyticsOptions(p2, env), { code: 'HT_ERR_OPTION', message: new RegExp(message.replace(/[[\]().*+?{}|^$]/g, '\\$&')) }, message);
  }
  t.throws(() => loadAnalyticsOptions(undefined, { HTTP_TRACER_API_TOKEN: 'secret-short' }), { message: 'HTTP_TRACER_API_TOKEN: the token must be at least 16 characters (it has 12)' }, 'the message never shows the token');
});

t.test('the service budget, the idle time and the redaction patterns reach the engine', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'c.json');
  fs.writeFileSync(file, JSON.stringify({ output: { analytics: { max_services: 50, series_idle_minutes: 30, redact_patterns: ['(?<=/invite/)[^/]+'] } } }));
  const config = loadAnalyticsOptions(file, {});
  t.same(config.options.seriesLimits, { services: 50, idleMs: 1_800_000 });
  t.same(config.options.redactPatterns, ['(?<=/invite/)[^/]+']);
  t.same(config.security.redactPatterns, ['(?<=/invite/)[^/]+'], 'one set for routes and the live stream');
  fs.writeFileSync(file, JSON.stringify({ output: { analytics: { series_idle_minutes: 2000 } } }));
  t.throws(() => loadAnalyticsOptions(file, {}), { code: 'HT_ERR_OPTION', message: /series_idle_minutes: 2000 must be from 1 to 1440 minutes \(at most the retention, 1d\)/ });
});

t.test('duration_buckets_seconds (and its variable) set the duration histogram buckets; bad bounds named by index', async (t) => {
  const p = file({ output: { analytics: { duration_buckets_seconds: [0.0001, 0.001, 0.01, 0.1, 1] } } });
  const config = loadAnalyticsOptions(p, {});
  t.same(config.options.durationBucketsSeconds, [0.0001, 0.001, 0.01, 0.1, 1]);
  const env = loadAnalyticsOptions(p, { HTTP_TRACER_ANALYTICS_DURATION_BUCKETS_SECONDS: '0.00005, 0.0005,0.005' });
  t.same(env.options.durationBucketsSeconds, [0.00005, 0.0005, 0.005], 'the variable wins: numbers separated by commas');
  t.equal(env.sources.durationBucketsSeconds, 'HTTP_TRACER_ANALYTICS_DURATION_BUCKETS_SECONDS');
  const engine = await Engine.start({ ...config.options, workerThreads: 1, clockOffsetMs: 0 }, config.sources);
  t.teardown(() => engine.stop());
  t.same(engine.store.families.get('http_request_duration_seconds')?.boundaries, [0.0001, 0.001, 0.01, 0.1, 1], 'the store exports those bounds');
  t.same(engine.store.families.get('http_response_size_bytes')?.boundaries?.length, 10, 'the size histogram keeps its own');

  const analytics = (v: unknown) => file({ output: { analytics: { duration_buckets_seconds: v } } });
  const cases: [string, string][] = [
    [analytics([]), 'output.analytics.duration_buckets_seconds: [] must be an array of 1 to 50 numbers'],
    [analytics('0.1'), 'output.analytics.duration_buckets_seconds: "0.1" must be an array of 1 to 50 numbers'],
    [analytics(Array.from({ length: 51 }, (_, i) => i + 1)), 'must be an array of 1 to 50 numbers'],
    [analytics([0.1, '1']), 'output.analytics.duration_buckets_seconds[1]: "1" must be a number above 0'],
    [analytics([0, 1]), 'output.analytics.duration_buckets_seconds[0]: 0 must be a number above 0'],
    [analytics([0.1, 0.05]), 'output.analytics.duration_buckets_seconds[1]: 0.05 must be above the bound before it (0.1): bounds go in ascending order'],
    [analytics([0.1, 0.1]), 'duration_buckets_seconds[1]: 0.1 must be above the bound before it (0.1)'],
  ];
  for (const [p, message] of cases) {
    t.throws(() => loadAnalyticsOptions(p, {}), { code: 'HT_ERR_OPTION', message: new RegExp(message.replace(/[[\]().*+?{}|^$]/g, '\\$&')) }, message);
  }
  t.throws(() => loadAnalyticsOptions(undefined, { HTTP_TRACER_ANALYTICS_DURATION_BUCKETS_SECONDS: '0.001,1ms' }), {
    code: 'HT_ERR_OPTION',
    message: 'HTTP_TRACER_ANALYTICS_DURATION_BUCKETS_SECONDS[1]: "1ms" must be a number above 0',
  });
  await t.rejects(Engine.start({ durationBucketsSeconds: [1, -1], clockOffsetMs: 0 }), { code: 'HT_ERR_OPTION', message: 'durationBucketsSeconds[1]: -1 must be a number above 0' }, 'library callers: the engine checks too');
});
