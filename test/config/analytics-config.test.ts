/**
 * The seed's configuration file and variables, as the engine reads them:
 * the seed's example as written, the environment winning over the file, and
 * every bad value named by its key or variable.
 */
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
  t.same(loadAnalyticsOptions(file(SEED), {}).server, { port: 8080, address: '0.0.0.0', enableDashboard: true, metricsPath: '/metrics' }, "the seed's example");
  t.same(loadAnalyticsOptions(undefined, {}).server, { port: 8080, address: '0.0.0.0', enableDashboard: true, metricsPath: '/metrics' }, 'defaults');
  const p = file({ output: { analytics: { dashboard_port: 9100, dashboard_address: '::1', enable_dashboard: false, metrics_endpoint: '/prom/metrics' } } });
  t.same(loadAnalyticsOptions(p, {}).server, { port: 9100, address: '::1', enableDashboard: false, metricsPath: '/prom/metrics' });
  const env = { HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: '9200', HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '127.0.0.1', HTTP_TRACER_ANALYTICS_ENABLE_DASHBOARD: 'true' };
  t.same(loadAnalyticsOptions(p, env).server, { port: 9200, address: '127.0.0.1', enableDashboard: true, metricsPath: '/prom/metrics' }, 'variables win');
  const bad: [Record<string, unknown>, Record<string, string>, string][] = [
    [{ dashboard_port: 70000 }, {}, 'output.analytics.dashboard_port: 70000 must be a port number, 1 to 65535'],
    [{ dashboard_address: 'localhost' }, {}, 'output.analytics.dashboard_address: "localhost" must be an IPv4 or IPv6 address'],
    [{ enable_dashboard: 'yes' }, {}, 'output.analytics.enable_dashboard: "yes" must be true or false'],
    [{ metrics_endpoint: '/api/metrics' }, {}, 'output.analytics.metrics_endpoint: "/api/metrics" must be a path such as /metrics'],
    [{}, { HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: '80a' }, 'HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: "80a" must be a port number'],
    [{}, { HTTP_TRACER_ANALYTICS_ENABLE_DASHBOARD: '1' }, 'HTTP_TRACER_ANALYTICS_ENABLE_DASHBOARD: "1" must be true or false'],
  ];
  for (const [analytics, vars, message] of bad) {
    t.throws(() => loadAnalyticsOptions(file({ output: { analytics } }), vars), { code: 'HT_ERR_OPTION', message: new RegExp(message.replace(/[[\]().*+?{}|^$]/g, '\\$&')) }, message);
  }
});

t.test('enable_analytics and enable_alerting, from the file and the variables', async (t) => {
  const seed = loadAnalyticsOptions(file(SEED), {});
  t.same([seed.enableAnalytics, seed.enableAlerting], [true, true], "the seed's example");
  const off = loadAnalyticsOptions(file({ output: { enable_analytics: false } }), {});
  t.same([off.enableAnalytics, off.enableAlerting], [false, false]);
  const env = loadAnalyticsOptions(file(SEED), { HTTP_TRACER_ENABLE_ANALYTICS: 'false', HTTP_TRACER_ANALYTICS_ENABLE_ALERTING: 'false' });
  t.same([env.enableAnalytics, env.enableAlerting], [false, false], 'variables win');
  t.throws(() => loadAnalyticsOptions(undefined, { HTTP_TRACER_ENABLE_ANALYTICS: 'yes' }), { message: 'HTTP_TRACER_ENABLE_ANALYTICS: "yes" must be true or false' });
  t.throws(() => loadAnalyticsOptions(file({ output: { enable_analytics: 1 } }), {}), { message: /output\.enable_analytics: 1 must be true or false/ });
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
    [analytics({ retention_hours: -1 }), 'output.analytics.retention_hours: -1 must be a positive number'],
    [analytics({ workers: 4 }), 'output.analytics.workers: 4 is not a known key (known: buffer_size, '],
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
