/**
 * Forwarding through an outage, with real eBPF and the real Prometheus: it
 * stops for two minutes while traffic flows, then starts again on the same
 * data; every sample arrives, in order, without a gap, and the counter ends
 * at exactly the number of requests made.
 */
import t from 'tap';
import { forwardEnv } from '../helpers/forwarding';
import { agentProcess, freePort, kernelSkipReason, nodeClient, nodeServer, sleep, stopChild, until } from '../helpers/kernel';
import { prometheusSkipReason, startPrometheus } from '../helpers/prometheus';

// Two minutes of outage and the catch-up: longer than the suite's per-file default.
t.setTimeout(420_000);

const skip = kernelSkipReason() || prometheusSkipReason();

t.test('an outage of two minutes: every sample arrives once Prometheus is back, in order, without a gap', { skip }, async (t) => {
  const prom = await startPrometheus();
  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  const agent = await agentProcess('run', ['--port', String(serverPort)], await freePort(), forwardEnv(prom));
  let requests = 0;
  let traffic = true;
  const load = (async () => {
    while (traffic) {
      await nodeClient(serverPort, true, [{ method: 'GET', path: '/hello' }]);
      requests++;
      await sleep(500);
    }
  })();
  t.teardown(async () => {
    traffic = false;
    await load;
    await stopChild(agent.child);
    await stopChild(server);
    await prom.stop();
  });
  const service = `node:${serverPort}`;
  const selector = `http_server_request_duration_seconds_count{service_name="${service}",http_route="/hello"}`;
  await until('the first samples', async () => ((await prom.value(`sum(${selector})`)) ?? 0) > 0 || undefined, 30_000);
  const downAt = Date.now();
  await prom.down();
  await sleep(120_000);
  const queued = (await (await fetch(`${agent.url}/api/health`)).json()) as { forwarding: { targets: { queue_records: number; failing_since: string | null }[] } };
  t.ok(queued.forwarding.targets[0].queue_records >= 100, `rollups waiting on disk during the outage (${queued.forwarding.targets[0].queue_records})`);
  t.not(queued.forwarding.targets[0].failing_since, null, 'the target shows as failing');
  await prom.up();
  traffic = false;
  await load;
  const upAt = Date.now();
  await until(`Prometheus to count all ${requests} requests`, async () => ((await prom.value(`sum(${selector})`)) === requests ? true : undefined), 120_000);
  t.equal(await prom.value(`sum(${selector})`), requests, `all ${requests} requests counted`);
  const [raw] = await prom.samples(selector, Math.ceil((Date.now() - downAt) / 1000) + 30);
  const during = raw.samples.filter(([ms]) => ms >= downAt && ms <= upAt);
  t.ok(during.length >= 110, `the rollups made during the outage arrived (${during.length} samples between ${new Date(downAt).toISOString()} and ${new Date(upAt).toISOString()})`);
  const gaps = raw.samples.slice(1).map(([ms], i) => ms - raw.samples[i][0]);
  t.ok(Math.max(...gaps) <= 3000, `no gap: samples at most ${Math.max(...gaps)} ms apart`);
  t.ok(raw.samples.every(([, v], i) => i === 0 || v >= raw.samples[i - 1][1]), 'the counter never goes back');
});

