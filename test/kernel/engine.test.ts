/**
 * Capture → engine → store with real eBPF: a Node server and client exchange
 * a known mix of requests, and the store holds exactly those counts, bytes,
 * connections and errors, with latency percentiles within bounds.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Capture } from '../../src/capture/capture';
import { loadAddon } from '../../src/capture/addon-load';
import { wallMinusMonotonicNs } from '../../src/capture/clock';
import type { HistogramSummary, Selector } from '../../src/analytics/store';
import { Engine } from '../../src/pipeline/engine';
import { freePort, kernelSkipReason, nodeClient, nodeServer, sleep, stopChild, type PlannedRequest } from '../helpers/kernel';

const plan: PlannedRequest[] = [
  ...Array.from({ length: 30 }, (_, i) => ({ method: 'GET', path: `/hello?i=${i}` })),
  ...Array.from({ length: 10 }, () => ({ method: 'GET', path: '/wait50' })),
  ...Array.from({ length: 5 }, () => ({ method: 'GET', path: '/fail' })),
  ...Array.from({ length: 5 }, () => ({ method: 'GET', path: '/missing' })),
  ...Array.from({ length: 4 }, (_, i) => ({ method: 'POST', path: '/echo', body: 'x'.repeat(100 * (i + 1)) })),
];

t.test('the store holds exactly the traffic that flowed', { skip: kernelSkipReason() }, async (t) => {
  const port = await freePort();
  const server = await nodeServer(port);
  const engine = await Engine.start({ workerThreads: 2, clockOffsetMs: Number(wallMinusMonotonicNs(loadAddon())) / 1e6 });
  const capture = Capture.start({ ports: { allow: [port] } }, (batch, records) => engine.ingest(batch, records));
  t.teardown(async () => {
    await capture.stop();
    await engine.stop();
    await stopChild(server);
  });

  const results = await nodeClient(port, true, plan);
  const service = `node:${port}`;
  const window = (selector: Selector) => engine.store.window(selector, 60_000);
  const values = (selector: Selector) => Object.fromEntries(window(selector).map((r) => [Object.values(r.labels).join(' '), r.summary.value]));
  const deadline = Date.now() + 5000;
  for (;;) {
    await engine.sync();
    const sides = values({ metric: 'http_requests_total', by: ['side'] });
    if ((sides.server === plan.length && sides.client === plan.length) || Date.now() > deadline) break;
    await sleep(50);
  }

  t.same(values({ metric: 'http_requests_total', match: { service }, by: ['method', 'route'] }), {
    'GET /hello': 30,
    'GET /wait50': 10,
    'GET /fail': 5,
    'GET /missing': 5,
    'POST /echo': 4,
  }, 'server side: requests by method and route');
  t.same(values({ metric: 'http_requests_total', match: { side: 'client', server_port: String(port) }, by: ['service'] }), { node: plan.length }, 'client side: the calling process, by the port it called');
  for (const side of ['server', 'client']) {
    t.same(values({ metric: 'http_responses_total', match: { side, server_port: String(port) }, by: ['status_code', 'status_class'] }), { '200 2xx': 44, '500 5xx': 5, '404 4xx': 5 }, `${side}: responses by status`);
    t.same(values({ metric: 'http_errors_total', match: { side, server_port: String(port) }, by: ['error_type'] }), side === 'server' ? { '5xx': 5 } : { '5xx': 5, '4xx': 5 }, `${side}: errors by type (4xx only for the client)`);
    t.same(values({ metric: 'network_connections_total', match: { side }, by: [] }), { '': 1 }, `${side}: one keep-alive connection`);
  }
  t.same(values({ metric: 'network_accepts_total', by: ['service'] }), { [service]: 1 });

  const written = results.reduce((n, r) => n + r.written, 0);
  const read = results.reduce((n, r) => n + r.read, 0);
  t.same(values({ metric: 'network_bytes_total', match: { service }, by: ['direction'] }), { rx: written, tx: read }, 'server bytes: requests in, responses out, exactly');
  t.same(values({ metric: 'network_bytes_total', match: { service: 'node' }, by: ['direction'] }), { rx: read, tx: written }, 'client bytes: the mirror image');
  // The cgroup v2 id is the inode number of the process's cgroup directory.
  const cgroupPath = fs.readFileSync(`/proc/${server.pid}/cgroup`, 'utf8').trim().split('\n').find((l) => l.startsWith('0::'))!.slice(3);
  const cgroupId = String(fs.statSync(path.join('/sys/fs/cgroup', cgroupPath)).ino);
  t.same(values({ metric: 'process_events_total', by: ['process_name', 'cgroup_id'] }), { [`node ${cgroupId}`]: 2 * plan.length }, 'the server and its client (both node, children of this test, one cgroup): by process name and cgroup, no pid');

  const [wait] = window({ metric: 'http_request_duration_seconds', match: { service, route: '/wait50' }, by: [] });
  const h = wait.summary as HistogramSummary;
  t.equal(h.count, 10);
  // At most 1 s: room for a loaded machine, and a unit slip (ms or µs taken for s) is 1000× off.
  t.ok(h.min >= 0.05 && h.p50 >= 0.05 && h.p99 <= 1 && h.max <= 1, `/wait50: min ${h.min}, p50 ${h.p50}, p99 ${h.p99}, max ${h.max} (s) within [0.05, 1]`);
  const [sizes] = window({ metric: 'http_response_size_bytes', match: { service, route: '/hello' }, by: [] });
  t.equal((sizes.summary as HistogramSummary).count, 30);
  t.equal((sizes.summary as HistogramSummary).sum, results.slice(0, 30).reduce((n, r) => n + r.read, 0), '/hello response bytes, exactly');

  const stats = engine.stats();
  t.equal(stats.droppedEvents, 0);
  // The engine processes every record: the exchanges and the connections' TCP events.
  t.equal(stats.eventsProcessed, capture.stats().records);
  t.equal(capture.stats().kernel.exchanges, 2 * plan.length);
  t.equal(capture.stats().lost.total, 0);
});
