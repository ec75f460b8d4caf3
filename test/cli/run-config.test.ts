/**
 * `http-tracer run` with bad configurations, as a user meets them (issue 9,
 * defect 9): each one exits 2 with a message naming the key (or variable) in
 * the user's own units, before anything is loaded — no eBPF, no engine, no
 * port (so no root needed). Table-driven: one row per mistake. A port in
 * use is the machine's state, not a mistake of the configuration: exit 1,
 * as fast, for run and demo alike.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';

const BIN = path.join(__dirname, '..', '..', 'bin', 'http-tracer.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'run-config-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (content: unknown): string => {
  const p = path.join(dir, `c${n++}.json`);
  fs.writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
};
const analytics = (a: Record<string, unknown>) => file({ output: { analytics: a } });
const fifo = path.join(dir, 'fifo.json');
spawnSync('mkfifo', [fifo]);
const tokenFile = path.join(dir, 'short-token');
fs.writeFileSync(tokenFile, 'tooshort\n');

interface Case {
  name: string;
  config?: string;
  env?: Record<string, string>;
  message: string | RegExp;
}

/** Runs the agent with a free port unless the case sets its own ('' removes a variable). */
function run(c: Case, port: number, command: 'run' | 'demo' = 'run'): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const args = [BIN, command, ...(c.config ? ['--config', c.config] : [])];
  const env: Record<string, string | undefined> = { PATH: process.env.PATH, HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(port), ...c.env };
  for (const [k, v] of Object.entries(env)) if (v === '') delete env[k];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    }),
  );
}

t.test('every bad configuration: exit 2, the key named in its own units, nothing loaded', async (t) => {
  // Each case has a port of its own (a case that gets as far as the port check binds it for a
  // moment, and cases run 8 at a time), below the ephemeral range, where no other test's
  // connection can be given it as its local port meanwhile.
  const ports = new Set<number>();
  const freePort = async (): Promise<number> => {
    let port = await freePortBelowEphemeral();
    while (ports.has(port)) port = await freePortBelowEphemeral();
    ports.add(port);
    return port;
  };
  const A = 'output.analytics';
  const cases: Case[] = [
    // the file itself
    { name: 'missing file', config: path.join(dir, 'nope.json'), message: 'cannot be read: ENOENT' },
    { name: 'a FIFO (must not hang)', config: fifo, message: 'is not a regular file (a FIFO)' },
    { name: 'a directory', config: dir, message: 'is not a regular file (a directory)' },
    { name: 'a device', config: '/dev/zero', message: 'is not a regular file (a device or socket)' },
    { name: 'not JSON', config: file('{"output": '), message: 'not valid JSON' },
    { name: 'empty file', config: file(''), message: 'not valid JSON' },
    { name: 'an array', config: file('[1]'), message: ': [1] must be a JSON object' },
    { name: 'a string', config: file('"x"'), message: ': "x" must be a JSON object' },
    { name: 'output not an object', config: file({ output: 3 }), message: ': output: 3 must be an object' },
    { name: 'analytics not an object', config: file({ output: { analytics: [] } }), message: `${A}: [] must be an object` },
    // unknown keys
    { name: 'typo at the top', config: file({ outptu: { analytics: { dashboard_address: '0.0.0.0' } } }), message: 'outptu: is not a known key; did you mean "output"?' },
    { name: 'unknown top-level key', config: file({ output: {}, extra: 1 }), message: 'extra: is not a known key (known here: output)' },
    { name: 'typo in output', config: file({ output: { enable_analytic: true } }), message: 'output.enable_analytic: is not a known key; did you mean "enable_analytics"?' },
    { name: 'typo in analytics', config: analytics({ worker_thread: 2 }), message: `${A}.worker_thread: is not a known key; did you mean "worker_threads"?` },
    { name: 'swapped letters', config: analytics({ dashbaord_port: 9000 }), message: `${A}.dashbaord_port: is not a known key; did you mean "dashboard_port"?` },
    { name: 'case', config: analytics({ Buffer_Size: 10 }), message: `${A}.Buffer_Size: is not a known key; did you mean "buffer_size"?` },
    { name: 'unrelated key', config: analytics({ colour: 'red' }), message: `${A}.colour: is not a known key (known here: buffer_size` },
    // engine values, in the file's units
    { name: 'worker_threads text', config: analytics({ worker_threads: 'four' }), message: `${A}.worker_threads: "four" must be an integer` },
    { name: 'worker_threads 0', config: analytics({ worker_threads: 0 }), message: `${A}.worker_threads: 0 must be an integer in [1, 64]` },
    { name: 'worker_threads 1000', config: analytics({ worker_threads: 1000 }), message: `${A}.worker_threads: 1000 must be an integer in [1, 64]` },
    { name: 'buffer_size fraction', config: analytics({ buffer_size: 1.5 }), message: `${A}.buffer_size: 1.5 must be an integer` },
    { name: 'buffer_size 0', config: analytics({ buffer_size: 0 }), message: `${A}.buffer_size: 0 must be an integer in [1, 10000000]` },
    { name: 'flush seconds 0', config: analytics({ flush_interval_seconds: 0 }), message: `${A}.flush_interval_seconds: 0 must be from 1 to 3600 seconds` },
    { name: 'flush seconds huge', config: analytics({ flush_interval_seconds: 86400 }), message: `${A}.flush_interval_seconds: 86400 must be from 1 to 3600 seconds` },
    { name: 'retention hours 0', config: analytics({ retention_hours: 0 }), message: `${A}.retention_hours: 0 must be a number of hours from 0.0167 (1 minute) to 720 (30 days)` },
    { name: 'retention hours 1000', config: analytics({ retention_hours: 1000 }), message: `${A}.retention_hours: 1000 must be a number of hours` },
    { name: 'retention text', config: analytics({ retention_hours: '24h' }), message: `${A}.retention_hours: "24h" must be a number of hours` },
    { name: 'window not a duration', config: analytics({ window_sizes: ['1m', '90 seconds'] }), message: `${A}.window_sizes[1]: "90 seconds" is not a duration` },
    { name: 'window_sizes not an array', config: analytics({ window_sizes: '1m' }), message: `${A}.window_sizes: "1m" must be an array of strings` },
    { name: 'window past the retention', config: analytics({ window_sizes: ['2h'], retention_hours: 1 }), message: `${A}.window_sizes[0]: "2h" is longer than the retention (1h)` },
    { name: 'window off the tier', config: analytics({ window_sizes: ['1m', '100m'] }), message: `${A}.window_sizes[1]: 100m is not a multiple of 15m` },
    { name: 'unknown metric', config: analytics({ enabled_metrics: ['http_requests_totl'] }), message: `${A}.enabled_metrics: ` },
    { name: 'bad route pattern', config: analytics({ route_patterns: ['orders/:id'] }), message: `${A}.route_patterns[0]: "orders/:id"` },
    { name: 'max_series 0', config: analytics({ max_series: 0 }), message: `${A}.max_series: 0 must be an integer in [1, 10000000]` },
    { name: 'processors not strings', config: analytics({ processors: [1] }), message: `${A}.processors: [1] must be an array of strings` },
    { name: 'alert_rules not an array', config: analytics({ alert_rules: {} }), message: `${A}.alert_rules: {} must be an array of rules` },
    { name: 'enable_alerting text', config: analytics({ enable_alerting: 'yes' }), message: `${A}.enable_alerting: "yes" must be true or false` },
    // alert rules and notification targets (planAlerting: checked before the engine, the probes, the database)
    {
      name: 'rule condition "greater"',
      config: analytics({ alert_rules: [{ name: 'high_error_rate', metric: 'http_errors_total_rate', condition: 'greater', threshold: 10 }] }),
      message: `${A}.alert_rules[0] ("high_error_rate").condition: "greater" must be one of >, <, ==, !=, >=, <= (or gt, lt, eq, ne, gte, lte)`,
    },
    {
      name: 'rule metric unknown',
      config: analytics({ alert_rules: [{ name: 'ok', metric: 'http_errors_total', condition: 'gt', threshold: 1 }, { name: 'typo', metric: 'http_errors_totl', condition: 'gt', threshold: 1 }] }),
      message: `${A}.alert_rules[1] ("typo").metric: "http_errors_totl" is not a metric alerts can use (known: `,
    },
    {
      name: 'rule names twice',
      config: analytics({ alert_rules: [0, 1].map(() => ({ name: 'same', metric: 'error_rate', condition: 'gt', threshold: 0.1 })) }),
      message: `${A}.alert_rules[1] ("same").name: "same" is also the name of alert_rules[0] (names must be unique)`,
    },
    { name: 'notification url ftp', config: analytics({ notifications: [{ name: 'ops', type: 'webhook', url: 'ftp://x' }] }), message: `${A}.notifications[0].url: "ftp://x" must be an http or https URL` },
    { name: 'notification type unknown', config: analytics({ notifications: [{ name: 'ops', type: 'email', url: 'https://x.example' }] }), message: `${A}.notifications[0].type: "email" must be one of alertmanager, webhook, slack` },
    { name: 'Alertmanager URL (variable)', env: { HTTP_TRACER_ALERTMANAGER_URL: 'notaurl' }, message: 'HTTP_TRACER_ALERTMANAGER_URL: "notaurl" must be an http or https URL' },
    // forwarding targets (planForwarding: checked before the engine, the probes, the queues)
    {
      name: 'forwarding target type unknown',
      config: file({ output: { forwarding: { targets: [{ name: 'mimir', type: 'kafka', url: 'http://x.example' }] } } }),
      message: 'output.forwarding.targets[0].type: "kafka" must be one of remote_write, otlp',
    },
    { name: 'remote-write URL (variable)', env: { HTTP_TRACER_FORWARD_REMOTE_WRITE_URL: 'notaurl' }, message: 'HTTP_TRACER_FORWARD_REMOTE_WRITE_URL: "notaurl" must be an http or https URL' },
    { name: 'data_dir relative', config: analytics({ data_dir: 'data' }), message: `${A}.data_dir: "data" must be an absolute path` },
    { name: 'data dir relative (variable)', env: { HTTP_TRACER_DATA_DIR: 'data' }, message: 'HTTP_TRACER_DATA_DIR: "data" must be an absolute path' },
    { name: 'enable_analytics number', config: file({ output: { enable_analytics: 1 } }), message: 'output.enable_analytics: 1 must be true or false' },
    // the port
    { name: 'port 0', config: analytics({ dashboard_port: 0 }), message: `${A}.dashboard_port: 0 must be from 1 to 65535`, env: { HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: '' } },
    { name: 'port text', config: analytics({ dashboard_port: '8080' }), message: `${A}.dashboard_port: "8080" must be an integer`, env: { HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: '' } },
    { name: 'address a name', config: analytics({ dashboard_address: 'localhost' }), message: `${A}.dashboard_address: "localhost" must be an IPv4 or IPv6 address` },
    { name: 'address not local', config: analytics({ dashboard_address: '192.0.2.10' }), message: `${A}.dashboard_address: "192.0.2.10" is not an address of this machine (EADDRNOTAVAIL)` },
    { name: 'address not local (variable)', env: { HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '198.51.100.7' }, message: 'HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: "198.51.100.7" is not an address of this machine' },
    { name: 'metrics path under /api', config: analytics({ metrics_endpoint: '/api/metrics' }), message: `${A}.metrics_endpoint: "/api/metrics" collides with the agent's own /api/ paths` },
    { name: 'metrics path a dashboard asset', config: analytics({ metrics_endpoint: '/assets/app.js' }), message: `${A}.metrics_endpoint: "/assets/app.js" collides with the dashboard's /assets/app.js` },
    { name: 'metrics path the page', config: analytics({ metrics_endpoint: '/' }), message: `${A}.metrics_endpoint: "/" collides with the dashboard's /` },
    { name: 'metrics path a probe', config: analytics({ metrics_endpoint: '/readyz' }), message: `${A}.metrics_endpoint: "/readyz" collides with the agent's own /readyz (the Kubernetes probes)` },
    { name: 'metrics path the WebSocket', config: analytics({ metrics_endpoint: '/ws/metrics' }), message: `${A}.metrics_endpoint: "/ws/metrics" collides with the agent's own /ws/ paths` },
    { name: 'metrics path relative', config: analytics({ metrics_endpoint: 'metrics' }), message: `${A}.metrics_endpoint: "metrics" must be a path such as /metrics` },
    { name: 'max connections 0', config: analytics({ http_max_connections: 0 }), message: `${A}.http_max_connections: 0 must be from 1 to 100000` },
    // security
    { name: 'short token', env: { HTTP_TRACER_API_TOKEN: 'abc' }, message: 'HTTP_TRACER_API_TOKEN: the token must be at least 16 characters (it has 3)' },
    { name: 'short token file', config: analytics({ api_token_file: tokenFile }), message: `${A}.api_token_file: the token must be at least 16 characters (it has 8)` },
    { name: 'protect reads without a token', env: { HTTP_TRACER_PROTECT_READS: 'true' }, message: 'protect_reads: needs an API token' },
    { name: 'origin with a path', config: analytics({ allowed_origins: ['https://a.example/app'] }), message: `${A}.allowed_origins[0]: "https://a.example/app" must be an origin` },
    { name: 'bad redact pattern', config: analytics({ redact_patterns: ['[a-'] }), message: `${A}.redact_patterns[0]: "[a-" is not a regular expression` },
    // variables
    { name: 'variable not a number', env: { HTTP_TRACER_ANALYTICS_WORKER_THREADS: '2x' }, message: 'HTTP_TRACER_ANALYTICS_WORKER_THREADS: "2x" must be a whole number' },
    { name: 'variable flush seconds', env: { HTTP_TRACER_ANALYTICS_FLUSH_INTERVAL_SECONDS: '0' }, message: 'HTTP_TRACER_ANALYTICS_FLUSH_INTERVAL_SECONDS: 0 must be from 1 to 3600 seconds' },
    { name: 'variable flag', env: { HTTP_TRACER_ENABLE_ANALYTICS: 'yes' }, message: 'HTTP_TRACER_ENABLE_ANALYTICS: "yes" must be true or false' },
    { name: 'heartbeat', env: { WEBSOCKET_HEARTBEAT_INTERVAL: '0' }, message: 'WEBSOCKET_HEARTBEAT_INTERVAL: 0 must be from 1 to 3600 seconds' },
  ];
  t.ok(cases.length >= 54, `${cases.length} configurations`);
  const results = new Map<Case, Awaited<ReturnType<typeof run>>>();
  for (let i = 0; i < cases.length; i += 8) {
    await Promise.all(cases.slice(i, i + 8).map(async (c) => results.set(c, await run(c, await freePort()))));
  }
  for (const c of cases) {
    const r = results.get(c)!;
    t.equal(r.code, 2, `${c.name}: exit 2 (${r.stderr.trim().split('\n')[0]})`);
    const first = r.stderr.split('\n')[0];
    if (typeof c.message === 'string') t.ok(first.includes(c.message), `${c.name}: ${JSON.stringify(first)} says ${JSON.stringify(c.message)}`);
    else t.match(first, c.message, c.name);
    t.notMatch(r.stderr, /capturing:|probes attached/, `${c.name}: nothing loaded`);
  }
});

t.test('a port in use: exit 1 at once, naming where the port was set, the address and the port; nothing loaded', async (t) => {
  const held = net.createServer();
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
  t.teardown(() => held.close());
  const busy = (held.address() as net.AddressInfo).port;
  const A = 'output.analytics';
  const cases: (Case & { command: 'run' | 'demo'; message: string })[] = [
    { command: 'run', name: 'run, port from the file', config: analytics({ dashboard_port: busy }), env: { HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: '' }, message: `${A}.dashboard_port: ${busy} is in use on 127.0.0.1 (EADDRINUSE)` },
    { command: 'run', name: 'run, port from the variable', env: {}, message: `HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: ${busy} is in use on 127.0.0.1 (EADDRINUSE)` },
    { command: 'demo', name: 'demo', env: {}, message: `HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: ${busy} is in use on 127.0.0.1 (EADDRINUSE)` },
  ];
  for (const c of cases) {
    // Debug level: the capture says "loading and attaching the eBPF programs" before it does.
    const r = await run({ ...c, env: { ...c.env, HTTP_TRACER_LOG_LEVEL: 'debug' } }, busy, c.command);
    t.equal(r.code, 1, `${c.name}: exit 1 (${r.stderr.trim()})`);
    t.ok(r.stderr.split('\n')[0].includes(c.message), `${c.name}: ${JSON.stringify(r.stderr)} says ${JSON.stringify(c.message)}`);
    t.ok(r.ms < 10_000, `${c.name}: refused in ${r.ms} ms`); // well under 1 s idle; one that stays up is killed at 15 s
    t.notMatch(r.stderr, /eBPF programs|capturing:|probes attached|demo: service/, `${c.name}: nothing loaded, no demo service`);
  }
});

/** A port free on 127.0.0.1 below the kernel's ephemeral range (ip_local_port_range). */
async function freePortBelowEphemeral(): Promise<number> {
  const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  for (let tries = 0; tries < 200; tries++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port below the ephemeral range');
}
