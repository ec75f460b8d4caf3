/**
 * `http-tracer run` as users run it: real eBPF, a Node server and client with
 * known traffic, the REST API over HTTP, and a real Prometheus (Debian's)
 * scraping /metrics; its query API must return the same numbers.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { agentProcess, freePort, kernelSkipReason, nodeClient, nodeServer, sleep, stopChild, type PlannedRequest } from '../helpers/kernel';


const plan: PlannedRequest[] = [
  ...Array.from({ length: 20 }, (_, i) => ({ method: 'GET', path: `/hello?n=${i}` })),
  ...Array.from({ length: 4 }, () => ({ method: 'GET', path: '/fail' })),
  ...Array.from({ length: 3 }, () => ({ method: 'GET', path: '/missing' })),
  ...Array.from({ length: 5 }, () => ({ method: 'GET', path: '/wait50' })),
];

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not there after ${timeoutMs} ms; last: ${JSON.stringify(v)}`);
    await sleep(200);
  }
}

const getJson = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;

t.test('run: REST API and /metrics over HTTP, scraped by a real Prometheus', { skip: kernelSkipReason() }, async (t) => {
  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  const agentPort = await freePort();
  const { child: agent, url: api, stderr } = await agentProcess('run', ['--port', String(serverPort)], agentPort);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-'));
  const promPort = await freePort();
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ebpf-http-tracer\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['127.0.0.1:${agentPort}']\n`,
  );
  const prometheus = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], {
    stdio: 'ignore',
  });
  t.teardown(async () => {
    await stopChild(prometheus);
    await stopChild(agent);
    await stopChild(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const health = await getJson<{ status: string; probes: { attached: number; total: number } }>(`${api}/api/health`);
  t.equal(health.status, 'healthy');
  await until('the start-up line', async () => stderr(), (s) => s.includes('agent: '));
  t.match(stderr(), new RegExp(`"msg":"agent: REST API http://127\\.0\\.0\\.1:${agentPort}/api/metrics, Prometheus http://127\\.0\\.0\\.1:${agentPort}/metrics"`), 'the address really bound');
  t.equal(health.probes.attached, health.probes.total, `${health.probes.attached}/${health.probes.total} probes attached`);

  await nodeClient(serverPort, true, plan);
  const service = `node:${serverPort}`;
  type Metrics = { totals: { requests: number; errors: number }; routes: { method: string; route: string; requests: number; errors: number; latency_seconds: { p50: number } }[] };
  const m = await until(
    'the REST API counts every request',
    () => getJson<Metrics>(`${api}/api/metrics?window=1m&service=${encodeURIComponent(service)}&side=server`),
    (v) => v.totals.requests === plan.length,
  );
  t.match(m.totals, { requests: 32, errors: 4 });
  t.same(
    m.routes.map((r) => [r.method, r.route, r.requests, r.errors]),
    [['GET', '/hello', 20, 0], ['GET', '/wait50', 5, 0], ['GET', '/fail', 4, 4], ['GET', '/missing', 3, 0]],
    "the server's 404s are requests, not errors (src/analytics/red.ts)",
  );
  const wait = m.routes.find((r) => r.route === '/wait50')!;
  // Below 0.5 s: room for a loaded machine; a unit slip is 1000× off.
  t.ok(wait.latency_seconds.p50 >= 0.05 && wait.latency_seconds.p50 < 0.5, `/wait50 p50 ${wait.latency_seconds.p50} s`);

  const query = (q: string) =>
    getJson<{ data: { result: { metric: Record<string, string>; value: [number, string] }[] } }>(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
  const byPath = await until(
    'Prometheus has scraped every request',
    () => query(`sum by (path) (http_requests_total{service="${service}",side="server"})`),
    (v) => v.data.result.reduce((n, r) => n + Number(r.value[1]), 0) === plan.length,
  );
  t.same(
    Object.fromEntries(byPath.data.result.map((r) => [r.metric.path, Number(r.value[1])])),
    { '/hello': 20, '/fail': 4, '/missing': 3, '/wait50': 5 },
    'Prometheus: requests by path',
  );
  const errors = await query(`sum by (error_type) (http_errors_total{service="${service}",side="server"})`);
  t.same(Object.fromEntries(errors.data.result.map((r) => [r.metric.error_type, Number(r.value[1])])), { '5xx': 4 }, 'Prometheus: errors by type (a server\'s 4xx is not one)');
  const otel = await query(`sum(http_server_request_duration_seconds_count{service_name="${service}",http_route="/wait50"})`);
  t.equal(Number(otel.data.result[0]?.value[1]), 5, 'Prometheus: the OpenTelemetry duration histogram');
  const slow = await query(`sum(http_server_request_duration_seconds_bucket{service_name="${service}",http_route="/wait50",le="0.05"})`);
  t.equal(Number(slow.data.result[0]?.value[1]), 0, 'none of the /wait50 exchanges under 50 ms');
  const fast = await query(`sum(http_server_request_duration_seconds_bucket{service_name="${service}",http_route="/hello",le="0.001"})`);
  t.ok(Number(fast.data.result[0]?.value[1]) > 0, `${fast.data.result[0]?.value[1]} of 20 /hello under 1 ms: buckets below the 5 ms where they used to start`);
  const build = await query('http_tracer_build_info{job="ebpf-http-tracer"}');
  t.match(build.data.result[0]?.metric, { version: /^\d+\.\d+\.\d+/, node_version: process.version }, 'the build');
  const rss = await query('process_resident_memory_bytes{job="ebpf-http-tracer"}');
  t.ok(Number(rss.data.result[0]?.value[1]) > 10e6, "the agent's own process metrics");
  const up = await query('up{job="ebpf-http-tracer"}');
  t.equal(up.data.result[0]?.value[1], '1', 'the scrape target is up');
  const lost = await query('sum(http_tracer_events_lost_total)');
  t.equal(Number(lost.data.result[0]?.value[1]), 0, 'nothing lost');
});

t.test('the quick start: demo serves the dashboard and the demo traffic within seconds', { skip: kernelSkipReason() }, async (t) => {
  const { child: demo, url: api } = await agentProcess('demo', [], await freePort());
  let lines = 0;
  demo.stdout!.on('data', (d: Buffer) => (lines += d.toString().split('\n').length - 1));
  t.teardown(() => stopChild(demo));
  const page = await fetch(`${api}/`);
  t.equal(page.status, 200);
  t.match(await page.text(), /<title>ebpf-http-tracer<\/title>/, 'the dashboard page');
  const m = await until(
    'the demo service shows up',
    () => getJson<{ services: { service: string; requests: number }[] }>(`${api}/api/metrics?window=1m&side=server`),
    (v) => v.services.some((s) => s.service === 'node:8090' && s.requests >= 20),
    30_000,
  );
  t.ok(m.services.some((s) => s.service === 'node:8090'), 'node:8090 (the demo service) in the services');
  t.ok(lines > 20, `a live line per exchange on stdout (${lines} so far)`);
});
