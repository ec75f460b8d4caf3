/**
 * Forwarding end to end, with real eBPF and the real Prometheus (Debian's,
 * its remote-write receiver on): `http-tracer run` forwards while a Node
 * client makes a known number of requests, and Prometheus's query API
 * returns exactly those counts per route and status; an agent killed with
 * SIGKILL while its queue holds unsent rollups sends them after it starts
 * again. (An outage of two minutes: forwarding-outage.test.ts.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { forwardEnv } from '../helpers/forwarding';
import { agentProcess, freePort, kernelSkipReason, nodeClient, nodeServer, stopChild, until, type PlannedRequest } from '../helpers/kernel';
import { prometheusSkipReason, startPrometheus, type Prometheus } from '../helpers/prometheus';

const skip = kernelSkipReason() || prometheusSkipReason();

/** Counts per "route status" of the node server's server side, as Prometheus has them now. */
async function countsByRoute(prom: Prometheus, service: string): Promise<Record<string, number>> {
  const rows = await prom.query(`sum by (http_route, http_response_status_code) (http_server_request_duration_seconds_count{service_name="${service}"})`);
  return Object.fromEntries(rows.map((r) => [`${r.metric.http_route} ${r.metric.http_response_status_code}`, Number(r.value[1])]));
}

t.test('remote-write: Prometheus holds exactly the requests made, per route and status', { skip }, async (t) => {
  const prom = await startPrometheus();
  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  const agent = await agentProcess('run', ['--port', String(serverPort)], await freePort(), forwardEnv(prom));
  t.teardown(async () => {
    await stopChild(agent.child);
    await stopChild(server);
    await prom.stop();
  });
  const service = `node:${serverPort}`;
  const plan: PlannedRequest[] = [
    ...Array.from({ length: 7 }, (): PlannedRequest => ({ method: 'GET', path: '/hello' })),
    ...Array.from({ length: 3 }, (): PlannedRequest => ({ method: 'GET', path: '/fail' })),
    ...Array.from({ length: 2 }, (): PlannedRequest => ({ method: 'POST', path: '/echo', body: 'x'.repeat(100) })),
  ];
  await nodeClient(serverPort, true, plan);
  const expected = { '/hello 200': 7, '/fail 500': 3, '/echo 200': 2 };
  const counts = await until('Prometheus to hold every request', async () => {
    const c = await countsByRoute(prom, service);
    return JSON.stringify(c) === JSON.stringify(expected) || Object.values(c).reduce((a, b) => a + b, 0) >= 12 ? c : undefined;
  }, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}; agent: ${agent.stderr()}`);
  });
  t.same(counts, expected, 'per route and status, exactly');
  const [series] = await prom.query(`http_server_request_duration_seconds_count{service_name="${service}",http_route="/fail"}`);
  t.match(series.metric, { node: process.env.NODE_NAME || os.hostname(), cluster: 'test', http_request_method: 'GET', error_type: '500', url_scheme: 'http' }, 'external labels, OpenTelemetry names');
  t.equal(await prom.value(`sum(http_requests_total{service="${service}",side="server",path="/hello"})`), 7, "the seed's http_requests_total too");
  const health = (await (await fetch(`${agent.url}/api/health`)).json()) as { forwarding: { targets: { name: string; samples_sent: number; samples_failed: number; queue_records: number }[] } };
  t.equal(health.forwarding.targets[0].name, 'remote_write');
  t.ok(health.forwarding.targets[0].samples_sent > 0, `samples sent (${health.forwarding.targets[0].samples_sent})`);
  t.equal(health.forwarding.targets[0].samples_failed, 0);
});

t.test('SIGKILL with a non-empty queue: the unsent rollups are sent after the next start, once', { skip }, async (t) => {
  const prom = await startPrometheus();
  await prom.down(); // nothing is delivered before the kill
  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-tracer-forward-'));
  const port = await freePort();
  let agent = await agentProcess('run', ['--port', String(serverPort)], port, forwardEnv(prom, dataDir));
  t.teardown(async () => {
    await stopChild(agent.child);
    await stopChild(server);
    await prom.stop();
  });
  await nodeClient(serverPort, true, Array.from({ length: 10 }, () => ({ method: 'GET', path: '/hello' })));
  const queueRecords = async (): Promise<number> => ((await (await fetch(`${agent.url}/api/health`)).json()) as { forwarding: { targets: { queue_records: number }[] } }).forwarding.targets[0].queue_records;
  // The 10 requests in the store, then three more rollups (each with them) in the queue.
  await until('the 10 requests in the store', async () => {
    const m = (await (await fetch(`${agent.url}/api/metrics?window=1m&service=node:${serverPort}&side=server`)).json()) as { totals: { requests: number } };
    return m.totals.requests === 10 ? true : undefined;
  }, 20_000);
  const before = await queueRecords();
  const queued = await until('three rollups with the requests queued', async () => ((await queueRecords()) >= before + 3 ? queueRecords() : undefined), 20_000);
  t.ok(queued >= 3, `rollups queued (${queued})`);
  agent.child.kill('SIGKILL');
  await new Promise((r) => agent.child.once('exit', r));

  await prom.up();
  agent = await agentProcess('run', ['--port', String(serverPort)], port, forwardEnv(prom, dataDir));
  const selector = `http_server_request_duration_seconds_count{service_name="node:${serverPort}",http_route="/hello"}`;
  // Every queued rollup with the requests (the first already says 10): as many samples as rollups.
  const [raw] = await until(
    `the killed agent’s ${queued} rollups`,
    async () => {
      const series = await prom.samples(selector, 300);
      return series.length === 1 && series[0].samples.length >= queued ? series : undefined;
    },
    60_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; agent: ${agent.stderr()}`);
  });
  // (One more may have been queued between the count and the kill.)
  t.ok(raw.samples.length >= queued, `the ${raw.samples.length} rollups queued before the kill arrived`);
  t.ok(raw.samples.every(([ms], i) => i === 0 || ms > raw.samples[i - 1][0]), 'in order, each timestamp once');
  t.equal(raw.samples.at(-1)![1], 10, 'the counter: exactly the 10 requests');
  t.ok(raw.samples.every(([, v], i) => i === 0 || v >= raw.samples[i - 1][1]), 'never going back');
});
