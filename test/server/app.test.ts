/**
 * The REST API and /metrics on a real engine fed with known exchanges,
 * through inject() and over real HTTP: exact values, every bad input named.
 */
import t from 'tap';
import { engineReaders } from '../../src/agent/readers';
import { Engine } from '../../src/pipeline/engine';
import { buildApp } from '../../src/server/app';
import { createExporter } from '../../src/exporters/prometheus';
import { batchOf, encodeExchange } from '../helpers/records';
import { rawExchange } from '../helpers/raw-http';

const NOW = 1_800_000_000_000; // a multiple of 10 s
const at = (msBefore: number, durationMs: number) => ({
  endNs: BigInt(NOW - msBefore) * 1_000_000n,
  startNs: BigInt(NOW - msBefore - durationMs) * 1_000_000n,
});

async function setup() {
  const engine = await Engine.start({ workerThreads: 2, clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000 });
  const records = [
    // api:8080, server: 8 GET /users/{id} (2 of them 500), 4 POST /orders (1 aborted), all in the last minute
    ...Array.from({ length: 8 }, (_, i) => encodeExchange({ comm: 'api', localPort: 8080, head: `GET /users/${i} HTTP/1.1\r\n\r\n`, status: i < 2 ? 500 : 200, responseBytes: 1000, ...at(1000 * (i + 1), 10 * (i + 1)) })),
    ...Array.from({ length: 4 }, (_, i) => encodeExchange({ comm: 'api', localPort: 8080, head: 'POST /orders HTTP/1.1\r\n\r\n', status: i === 0 ? 0 : 201, flags: i === 0 ? 1 | 2 : 0, responseBytes: 300, ...at(2000 * (i + 1), 100) })),
    // curl, client side, calling port 8080
    ...Array.from({ length: 3 }, (_, i) => encodeExchange({ direction: 'client', comm: 'curl', localPort: 50000 + i, peerPort: 8080, head: 'GET /users/1 HTTP/1.1\r\n\r\n', status: 404, ...at(500 * (i + 1), 5) })),
  ];
  engine.ingest(batchOf(...records), records.length);
  await engine.sync();
  const exporter = createExporter(engineReaders(engine));
  const app = buildApp({ ...engineReaders(engine), scrape: exporter.scrape, startedAtMs: Date.now() - 5000 });
  t.teardown(async () => {
    await app.close();
    await engine.stop();
  });
  return { engine, app };
}

t.test('GET /api/health, /api/processors, /api/stats, /api/alerts', async (t) => {
  const { app } = await setup();
  const health = await app.inject('/api/health');
  t.equal(health.statusCode, 200);
  const h = health.json();
  t.match(h, { status: 'healthy', processors: 4, aggregators: 3, buffer_size: 0, buffer_capacity: 20_000, worker_threads: 2, probes: null, lost: { total: 0, last_minute: 0 }, problems: [] });
  t.ok(h.uptime_seconds >= 5 && h.uptime_seconds < 60);
  const processors = (await app.inject('/api/processors')).json();
  t.same(processors.processors.map((p: { name: string; events_in: number }) => [p.name, p.events_in]), [['http', 15], ['network', 15], ['performance', 15], ['error', 15]]);
  const stats = (await app.inject('/api/stats')).json();
  t.match(stats.engine, { status: 'running', events_in: 15, events_processed: 15, dropped_events: 0 });
  t.same(stats.windows, ['1m', '5m', '15m', '1h', '1d']);
  t.same((await app.inject('/api/alerts')).json(), { enabled: false, alerts: [], active: [], history: [] }, 'alerting off: nothing');
  t.same((await app.inject('/')).json().endpoints, ['/api/metrics?window=5m', '/api/series?window=15m', '/api/health', '/healthz', '/readyz', '/api/processors', '/api/stats', '/api/alerts', '/metrics', '/ws/{client_id}', '/ws/analytics']);
});

t.test('health turns degraded when probes did not attach or exchanges are being lost', async (t) => {
  const { engine } = await setup();
  const attach = [
    { program: 'sys_enter_read', target: 'syscalls/sys_enter_read', attached: true, error: '' },
    { program: 'sys_enter_sendfile64', target: 'syscalls/sys_enter_sendfile64', attached: false, error: 'ENOENT' },
  ];
  const readers = engineReaders(engine);
  const app = buildApp({ ...readers, health: { ...readers.health, probes: attach }, scrape: async () => '', startedAtMs: Date.now() });
  t.teardown(() => app.close());
  const h = (await app.inject('/api/health')).json();
  t.match(h, { status: 'degraded', probes: { attached: 1, total: 2, failed: ['sys_enter_sendfile64'] }, problems: ['probes not attached: sys_enter_sendfile64'] });

  const lossy = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, bufferSize: 1 });
  t.teardown(() => lossy.stop());
  const app2 = buildApp({ ...engineReaders(lossy), scrape: async () => '', startedAtMs: Date.now() });
  t.teardown(() => app2.close());
  t.equal((await app2.inject('/api/health')).json().status, 'healthy', 'before: healthy');
  const batch = batchOf(encodeExchange(), encodeExchange());
  lossy.ingest(batch, 2);
  lossy.ingest(batch, 2); // the queue holds 2 already: dropped
  const after = (await app2.inject('/api/health')).json();
  t.match(after, { status: 'degraded', lost: { total: 2, last_minute: 2 }, problems: ['2 exchanges lost in the last minute'] });
});

t.test('GET /api/metrics: totals, services and routes, with filters', async (t) => {
  const { app } = await setup();
  const r = await app.inject('/api/metrics?window=1m');
  t.equal(r.statusCode, 200);
  const m = r.json();
  t.equal(m.window_seconds, 60);
  t.match(m.totals, { requests: 15, errors: 6, error_rate: 6 / 15 });
  t.same(m.status_classes, { '2xx': 9, '4xx': 3, '5xx': 2, none: 1 });
  t.same(
    m.services.map((s: { service: string; side: string; requests: number; errors: number }) => [s.service, s.side, s.requests, s.errors]),
    [['api:8080', 'server', 12, 3], ['curl', 'client', 3, 3]],
  );
  t.same(
    m.routes.map((s: { method: string; route: string; requests: number; errors: number }) => [s.method, s.route, s.requests, s.errors]),
    [['GET', '/users/{id}', 8, 2], ['POST', '/orders', 4, 1], ['GET', '/users/{id}', 3, 3]],
  );
  const users = m.routes[0].latency_seconds;
  t.same([users.p50, users.max], [0.04, 0.08], 'exact percentiles while few values: rank floor(0.5 * 7) of 10..80 ms');

  const filtered = async (query: string) => (await app.inject(`/api/metrics?window=5m&${query}`)).json();
  t.equal((await filtered('service=curl')).totals.requests, 3);
  t.equal((await filtered('side=server&method=POST')).totals.requests, 4);
  t.equal((await filtered('route=/orders')).totals.requests, 4);
  t.match((await filtered('status_class=5xx')).totals, { requests: 2, errors: 2 });
  t.match((await filtered('status_class=2xx')).totals, { requests: 9, errors: 0 });
  t.equal((await filtered('limit=1')).routes.length, 1);
  t.same((await filtered('service=nobody')).totals.requests, 0, 'no match: zeros, not an error');
});

t.test('bad queries: 400 naming the field; unknown paths: JSON 404', async (t) => {
  const { app } = await setup();
  const cases: [string, string, string][] = [
    ['window=abc', 'window', 'window: must match pattern'],
    ['window=2d', 'window', 'window: 2d is beyond the retention of 1d'],
    ['window=7s', 'window', 'window: 7s must be at least 10s'],
    ['limit=0', 'limit', 'limit: must be >= 1'],
    ['limit=many', 'limit', 'limit: must be integer'],
    ['status_class=6xx', 'status_class', 'status_class: must be equal to one of the allowed values'],
    ['side=both', 'side', 'side: must be equal to one of the allowed values'],
    ['colour=red', 'colour', 'colour: is not a known parameter'],
    [`service=${'x'.repeat(300)}`, 'service', 'service: must NOT have more than 256 characters'],
  ];
  for (const [query, field, message] of cases) {
    const r = await app.inject(`/api/metrics?${query}`);
    t.equal(r.statusCode, 400, query.slice(0, 40));
    t.match(r.json(), { code: /^HT_ERR_(BAD_REQUEST|QUERY)$/, error: 'bad request', field, message: new RegExp('^' + message.replace(/[[\]().*+?{}|^$]/g, '\\$&')) }, query.slice(0, 40));
  }
  for (const path of ['/api/health', '/api/processors', '/api/stats', '/api/alerts', '/metrics']) {
    const r = await app.inject(`${path}?verbose=1`);
    t.equal(r.statusCode, 400, `${path} takes no parameters`);
    t.equal(r.json().message, 'verbose: is not a known parameter');
  }
  const missing = await app.inject('/api/nothing?x=1');
  t.equal(missing.statusCode, 404);
  t.same(missing.json(), { code: 'HT_ERR_NOT_FOUND', error: 'not found', message: 'no route GET /api/nothing' });
  t.equal((await app.inject('/api/metrics?window=2d')).json().code, 'HT_ERR_QUERY', 'a window the store cannot serve');
  t.equal((await app.inject('/api/metrics?limit=0')).json().code, 'HT_ERR_BAD_REQUEST');
});

t.test('a known path with another method: 405 with Allow; CONNECT: 405, not silence', async (t) => {
  const { app } = await setup();
  for (const [method, url] of [['DELETE', '/api/health'], ['POST', '/api/metrics?window=1m'], ['PUT', '/metrics'], ['PATCH', '/'], ['OPTIONS', '/api/series']] as const) {
    const r = await app.inject({ method, url });
    t.equal(r.statusCode, 405, `${method} ${url}`);
    t.equal(r.headers.allow, 'GET, HEAD', `${method} ${url}: Allow`);
    t.same(r.json(), { code: 'HT_ERR_METHOD_NOT_ALLOWED', error: 'method not allowed', message: `${method} ${url.split('?')[0]}: allowed GET, HEAD` });
  }
  t.equal((await app.inject({ method: 'DELETE', url: '/api/nothing' })).statusCode, 404, 'an unknown path stays a 404 whatever the method');
  t.equal((await app.inject({ method: 'HEAD', url: '/api/health' })).statusCode, 200);

  const address = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
  const answer = await rawExchange(Number(address.port), 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  t.match(answer, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  t.match(answer, /\r\nallow: GET, HEAD\r\n/);
  t.match(answer, /"code":"HT_ERR_METHOD_NOT_ALLOWED"/);
});

t.test('GET /metrics: seed names, OpenTelemetry names, percentiles and the agent itself', async (t) => {
  const { app } = await setup();
  const r = await app.inject('/metrics');
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /^text\/plain; version=0.0.4/);
  const lines = new Set(r.body.split('\n'));
  const expect = [
    '# TYPE http_requests_total counter',
    'http_requests_total{service="api:8080",side="server",server_port="8080",method="GET",path="/users/{id}"} 8',
    'http_requests_total{service="api:8080",side="server",server_port="8080",method="POST",path="/orders"} 4',
    'http_requests_total{service="curl",side="client",server_port="8080",method="GET",path="/users/{id}"} 3',
    'http_responses_total{service="api:8080",side="server",server_port="8080",status_code="500",status_class="5xx"} 2',
    'http_errors_total{service="api:8080",side="server",server_port="8080",path="/orders",error_type="aborted"} 1',
    'network_errors_total{service="api:8080",side="server",reason="closed"} 1',
    '# TYPE http_server_request_duration_seconds histogram',
    'http_server_request_duration_seconds_bucket{le="0.025",service_name="api:8080",server_port="8080",http_request_method="GET",http_route="/users/{id}",http_response_status_code="200",url_scheme="http"} 0',
    'http_server_request_duration_seconds_bucket{le="0.05",service_name="api:8080",server_port="8080",http_request_method="GET",http_route="/users/{id}",http_response_status_code="200",url_scheme="http"} 3',
    'http_server_request_duration_seconds_bucket{le="+Inf",service_name="api:8080",server_port="8080",http_request_method="GET",http_route="/users/{id}",http_response_status_code="200",url_scheme="http"} 6',
    'http_server_request_duration_seconds_count{service_name="api:8080",server_port="8080",http_request_method="POST",http_route="/orders",http_response_status_code="201",url_scheme="http"} 3',
    'http_client_request_duration_seconds_count{service_name="curl",server_port="8080",http_request_method="GET",http_route="/users/{id}",http_response_status_code="404",error_type="404",url_scheme="http"} 3',
    'http_request_duration_seconds_p50{service="curl",side="client"} 0.005',
    'http_tracer_events_processed_total 15',
    'http_tracer_events_lost_total{reason="engine_queue_full"} 0',
    'http_tracer_series_folded_total{reason="route"} 0',
    'http_tracer_series_folded_total{reason="service"} 0',
    'http_tracer_series_folded_total{reason="global"} 0',
  ];
  for (const line of expect) t.ok(lines.has(line), line);
  t.notOk(r.body.includes('http_request_duration_seconds_bucket'), 'the duration histogram goes out once, under its OpenTelemetry names');
  t.ok(lines.has('http_response_size_bytes_bucket{le="1024",service="api:8080",side="server",server_port="8080",path="/users/{id}"} 8'));
  t.match(r.body, /^http_tracer_scrape_duration_seconds \d/m);
  t.match(r.body, /^http_tracer_build_info\{version="\d+\.\d+\.\d+[^"]*",node_version="v\d+\.\d+\.\d+"\} 1$/m, 'the build');
  for (const own of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
    t.match(r.body, new RegExp(`^# TYPE ${own} `, 'm'), `the agent process: ${own}`);
  }
  t.notMatch(r.body, /status_code="0"/, 'no status line, no status code label');
  t.notMatch(r.body, /\bpid="/, 'no pid label');
  t.ok(lines.has('process_events_total{process_name="api",cgroup_id="1"} 12'), 'exchanges per process name and cgroup');
});

t.test('enable_dashboard: the page and its bundled assets, with a content security policy', async (t) => {
  const { engine } = await setup();
  const app = buildApp({ ...engineReaders(engine), scrape: async () => '', startedAtMs: Date.now(), dashboard: true });
  t.teardown(() => app.close());
  const page = await app.inject('/');
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.headers['content-security-policy'], /script-src 'self';/);
  t.match(page.body, /<script src="\/assets\/uplot.js"><\/script>/);
  for (const asset of ['/assets/app.js', '/assets/style.css', '/assets/uplot.js', '/assets/uplot.css']) t.equal((await app.inject(asset)).statusCode, 200, asset);
  t.match((await app.inject('/assets/uplot.js')).body, /uPlot/, 'uPlot served from the package, not a CDN');
  t.equal((await app.inject('/favicon.ico')).statusCode, 204);
  t.equal((await app.inject('/api/health')).statusCode, 200, 'the API beside the page');
});

t.test('GET /api/series: points for the charts', async (t) => {
  const { app } = await setup();
  const s = (await app.inject('/api/series?window=15m')).json();
  t.equal(s.step_seconds, 10);
  t.ok(s.points.length >= 1 && s.points.length <= 3, `${s.points.length} points`);
  t.equal(s.points.reduce((n: number, p: { requests_per_second: number }) => n + p.requests_per_second * 10, 0), 15, 'every request in some step');
  t.equal((await app.inject('/api/series?window=15m&side=sideways')).statusCode, 400);
  t.equal((await app.inject('/api/series?window=40d')).json().field, 'window');
});

t.test('over real HTTP on a loopback port', async (t) => {
  const { app } = await setup();
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const health = await fetch(`${address}/api/health`);
  t.equal(health.status, 200);
  t.equal(((await health.json()) as { status: string }).status, 'healthy');
  const bad = await fetch(`${address}/api/metrics?window=forever`);
  t.equal(bad.status, 400);
  t.equal(((await bad.json()) as { field: string }).field, 'window');
  const metrics = await fetch(`${address}/metrics`);
  t.match(await metrics.text(), /http_requests_total\{service="api:8080"/);
});

t.test('GET /api/series: every window the dashboard offers, on a clock that moves between reads, across tier boundaries', async (t) => {
  const HOUR = 3_600_000;
  const steps: Record<string, number> = { '1m': 10, '5m': 10, '15m': 10, '1h': 60, '1d': 3600 };
  // NOW is a whole hour: 1 ms and 1 s before the next one, just after it, and mid-step.
  for (const base of [NOW + HOUR - 1, NOW + HOUR - 1000, NOW + HOUR + 1, NOW + 4_321]) {
    let clock = base;
    // Every read of the clock moves it 3 ms on: the request reads it many times.
    const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => (clock += 3), publishIntervalMs: 60_000 });
    t.teardown(() => engine.stop());
    const records = Array.from({ length: 12 }, (_, i) =>
      encodeExchange({ head: `GET /items/${i} HTTP/1.1\r\n\r\n`, status: i < 3 ? 503 : 200, startNs: BigInt(base - 500 * i - 20) * 1_000_000n, endNs: BigInt(base - 500 * i) * 1_000_000n }),
    );
    engine.ingest(batchOf(...records), records.length);
    await engine.sync();
    const app = buildApp({ ...engineReaders(engine), scrape: async () => '', startedAtMs: Date.now() });
    t.teardown(() => app.close());
    for (const window of Object.keys(steps)) {
      const r = await app.inject(`/api/series?window=${window}`);
      t.equal(r.statusCode, 200, `${window} at ${new Date(base).toISOString()}: ${r.body.slice(0, 120)}`);
      const s = r.json() as { step_seconds: number; points: { requests_per_second: number; error_rate: number }[] };
      t.equal(s.step_seconds, steps[window], `${window}: the step matches the tier`);
      const requests = s.points.reduce((n, p) => n + p.requests_per_second * s.step_seconds, 0);
      const errors = s.points.reduce((n, p) => n + p.error_rate * p.requests_per_second * s.step_seconds, 0);
      t.same([Math.round(requests), Math.round(errors)], [12, 3], `${window}: every request and error in some step`);
      t.ok(s.points.length <= 90, `${window}: ${s.points.length} points`);
    }
  }
});

t.test('/api/metrics and /api/series read "now" once per request', async (t) => {
  let reads = 0;
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => (reads++, NOW), publishIntervalMs: 60_000, flushIntervalMs: 3_600_000 });
  t.teardown(() => engine.stop());
  engine.ingest(batchOf(encodeExchange({ status: 200, ...at(1000, 5) })), 1);
  await engine.sync();
  const app = buildApp({ ...engineReaders(engine), scrape: async () => '', startedAtMs: Date.now() });
  t.teardown(() => app.close());
  for (const url of ['/api/metrics?window=5m', '/api/series?window=15m', '/api/series?window=1d']) {
    const before = reads;
    t.equal((await app.inject(url)).statusCode, 200, url);
    t.equal(reads - before, 1, `${url}: one read of the clock`);
  }
});

t.test('health counts losses from the start, not from the first query', async (t) => {
  const lossy = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, bufferSize: 1 });
  t.teardown(() => lossy.stop());
  const startedAtMs = Date.now();
  const batch = batchOf(encodeExchange(), encodeExchange());
  lossy.ingest(batch, 2);
  lossy.ingest(batch, 2); // dropped before anyone asked for health
  const app = buildApp({ ...engineReaders(lossy), scrape: async () => '', startedAtMs });
  t.teardown(() => app.close());
  const first = (await app.inject('/api/health')).json();
  t.match(first, { status: 'degraded', lost: { total: 2, last_minute: 2 }, problems: ['2 exchanges lost in the last minute'] });
});

t.test('captured control characters leave neither REST JSON nor /metrics raw', async (t) => {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000 });
  t.teardown(() => engine.stop());
  const records = [
    encodeExchange({ comm: 'ev\x1bil\x07', head: 'GET /p\x1b[2J\x9b31m\x00x HTTP/1.1\r\n\r\n', ...at(1000, 5) }),
    encodeExchange({ comm: 'c1\x9b', direction: 'client', peerPort: 9000, head: 'GET /q\x7f HTTP/1.1\r\n\r\n', ...at(1000, 5) }),
  ];
  engine.ingest(batchOf(...records), records.length);
  await engine.sync();
  const exporter = createExporter(engineReaders(engine));
  const app = buildApp({ ...engineReaders(engine), scrape: exporter.scrape, startedAtMs: Date.now() });
  t.teardown(() => app.close());
  const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f]|\\u00[01][0-9a-f]|\\u007f|\\u00[89][0-9a-f]/i;
  const rest = await app.inject('/api/metrics?window=1m');
  t.notMatch(rest.body, RAW, 'REST: no raw control character, nor a \\u escape of one');
  const m = rest.json();
  t.same(m.services.map((s: { service: string }) => s.service).sort(), ['c1\\x9b', 'ev\\x1bil\\x07:8080']);
  t.ok(m.routes.some((r: { route: string }) => r.route === '/p\\x1b[2J\\x9b31m\\x00x'), JSON.stringify(m.routes.map((r: { route: string }) => r.route)));
  const filtered = (await app.inject(`/api/metrics?window=1m&service=${encodeURIComponent('c1\x9b')}`)).json();
  t.equal(filtered.totals.requests, 1, 'a filter takes the raw value');
  t.same(filtered.filters, { service: 'c1\\x9b' }, 'and echoes it escaped');
  const metrics = await app.inject('/metrics');
  t.notMatch(metrics.body.replace(/\n/g, ' '), /[\x00-\x1f\x7f-\x9f]/, '/metrics: no raw control character in any label');
  t.match(metrics.body, /http_requests_total\{service="ev\\\\x1bil\\\\x07:8080",side="server",server_port="8080",method="GET",path="\/p\\\\x1b\[2J\\\\x9b31m\\\\x00x"\} 1/);
  t.match(metrics.body, /http_request_duration_seconds_p50\{service="c1\\\\x9b",side="client"\}/);
  const series = await app.inject('/api/series?window=5m');
  t.notMatch(series.body, RAW);
});

t.test('the API token: writes always, reads with protect_reads, never /api/health; 401 with WWW-Authenticate', async (t) => {
  const { engine } = await setup();
  const token = 'a-token-of-32-characters-or-so!!';
  const open = buildApp({ ...engineReaders(engine), scrape: async () => 'm 1\n', startedAtMs: Date.now(), security: { token, protectReads: false } });
  const guarded = buildApp({ ...engineReaders(engine), scrape: async () => 'm 1\n', startedAtMs: Date.now(), security: { token, protectReads: true } });
  t.teardown(() => Promise.all([open.close(), guarded.close()]));
  const bearer = (v: string) => ({ authorization: `Bearer ${v}` });

  t.equal((await open.inject('/api/metrics')).statusCode, 200, 'reads open without protect_reads');
  const write = await open.inject({ method: 'POST', url: '/api/alerts' });
  t.equal(write.statusCode, 401, 'a write without the token');
  t.equal(write.headers['www-authenticate'], 'Bearer realm="http-tracer"');
  t.same(write.json(), { code: 'HT_ERR_UNAUTHORIZED', error: 'unauthorized', message: 'this path needs the API token: Authorization: Bearer <token>' });
  const reached = await open.inject({ method: 'POST', url: '/api/alerts', headers: bearer(token) });
  t.same([reached.statusCode, reached.json().code], [409, 'HT_ERR_ALERTING_DISABLED'], 'with the token, the write reaches the route (alerting is off here)');

  for (const url of ['/api/metrics?window=1m', '/api/series', '/api/stats', '/api/processors', '/api/alerts', '/metrics', '/api/nothing', '/%61pi/stats', '/%6detrics', '/api/%73tats']) {
    t.equal((await guarded.inject(url)).statusCode, 401, `${url} without a token`);
    const wrong = await guarded.inject({ url, headers: bearer(token.slice(0, -1) + '?') });
    t.equal(wrong.statusCode, 401, `${url} with a wrong token`);
    t.equal(wrong.headers['www-authenticate'], 'Bearer realm="http-tracer", error="invalid_token"');
    t.not((await guarded.inject({ url, headers: bearer(token) })).statusCode, 401, `${url} with the token`);
  }
  t.equal((await guarded.inject({ url: '/metrics', headers: { authorization: `bearer  ${token}` } })).statusCode, 200, 'the scheme is case-insensitive (RFC 7235)');
  t.equal((await guarded.inject({ url: '/metrics', headers: { authorization: `Basic ${token}` } })).statusCode, 401);
  t.equal((await guarded.inject('/api/health')).statusCode, 200, 'liveness stays open');
});

t.test('secrets in captured targets stay off REST, /api/series and /metrics (query values never, path secrets by redact_patterns)', async (t) => {
  const SECRET = 'S3cr3tInv1teC0de';
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000, redactPatterns: ['(?<=/invite/)[^/]+', '[^/]+@[^/]+'] });
  const heads = [`GET /invite/${SECRET}/accept?token=${SECRET} HTTP/1.1\r\n\r\n`, `GET /users/alice@example.com/reset-password?email=alice@example.com&token=${SECRET} HTTP/1.1\r\n\r\n`, `GET http://bob:${SECRET}@proxy.example/x HTTP/1.1\r\n\r\n`];
  const records = heads.map((head, i) => encodeExchange({ comm: 'api', localPort: 8080, head, status: 200, ...at(1000 * (i + 1), 5) }));
  engine.ingest(batchOf(...records), records.length);
  await engine.sync();
  const exporter = createExporter(engineReaders(engine));
  const app = buildApp({ ...engineReaders(engine), scrape: exporter.scrape, startedAtMs: Date.now() });
  t.teardown(async () => {
    await app.close();
    await engine.stop();
  });
  const bodies = await Promise.all(['/api/metrics?window=5m', '/api/series?window=5m', '/metrics', '/api/stats'].map(async (url) => [url, (await app.inject(url)).body] as const));
  for (const [url, body] of bodies) {
    t.notMatch(body, SECRET, `${url}: no secret`);
    t.notMatch(body, 'alice@example.com', `${url}: no address`);
  }
  const routes = ((await app.inject('/api/metrics?window=5m')).json().routes as { route: string }[]).map((r) => r.route).sort();
  t.same(routes, ['/invite/{redacted}/accept', '/users/{redacted}/reset-password', '/x']);
});
