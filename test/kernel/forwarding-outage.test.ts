/**
 * Forwarding through an outage, with real eBPF and the real Prometheus: it
 * stops for two minutes while traffic flows, then starts again on the same
 * data; every rollup made meanwhile arrives, once, in order, and the counter
 * ends at exactly the number of requests made.
 */
import t from 'tap';
import { forwardEnv } from '../helpers/forwarding';
import { agentProcess, freePort, kernelSkipReason, nodeClient, nodeServer, sleep, stopChild, until } from '../helpers/kernel';
import { prometheusSkipReason, startPrometheus } from '../helpers/prometheus';

// Two minutes of outage and the catch-up: longer than the suite's per-file default.
t.setTimeout(420_000);

const skip = kernelSkipReason() || prometheusSkipReason();

interface Forwarding {
  flushes: number;
  last_flush_at: string | null;
  targets: { queue_records: number; failing_since: string | null }[];
}

t.test('an outage of two minutes: every rollup arrives once Prometheus is back, once and in order', { skip }, async (t) => {
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
  const forwarding = async () => ((await (await fetch(`${agent.url}/api/health`)).json()) as { forwarding: Forwarding }).forwarding;
  await until('the first samples', async () => ((await prom.value(`sum(${selector})`)) ?? 0) > 0 || undefined, 30_000);
  const before = await forwarding();
  const downAt = Date.now();
  await prom.down();
  await sleep(120_000);
  const queued = await forwarding();
  const madeSince = queued.flushes - before.flushes;
  // Every rollup made since the outage began waits (a rollup may take more than one request; the first may have gone before it).
  t.ok(madeSince >= 100 && queued.targets[0].queue_records >= madeSince - 1, `rollups waiting on disk during the outage (${queued.targets[0].queue_records} of the ${madeSince} made)`);
  t.not(queued.targets[0].failing_since, null, 'the target shows as failing');
  await prom.up();
  traffic = false;
  await load;
  const after = await forwarding();
  await until(`Prometheus to count all ${requests} requests`, async () => ((await prom.value(`sum(${selector})`)) === requests ? true : undefined), 120_000);
  t.equal(await prom.value(`sum(${selector})`), requests, `all ${requests} requests counted`);
  // Each rollup is one sample at the rollup's instant: those from the one before the outage to the one after it, all there, once.
  const [from, to] = [Date.parse(before.last_flush_at!), Date.parse(after.last_flush_at!)];
  const raw = await until(
    'the rollups up to the one after the outage',
    async () => {
      const [series] = await prom.samples(selector, Math.ceil((Date.now() - from) / 1000) + 30);
      return series && series.samples[series.samples.length - 1][0] >= to ? series : undefined;
    },
    60_000,
  );
  const between = raw.samples.filter(([ms]) => ms > from && ms <= to);
  t.equal(
    between.length,
    after.flushes - before.flushes,
    `every rollup made from ${before.last_flush_at} to ${after.last_flush_at} arrived, once (${between.length} samples; outage from ${new Date(downAt).toISOString()})`,
  );
  t.ok(raw.samples.every(([, v], i) => i === 0 || v >= raw.samples[i - 1][1]), 'the counter never goes back');
});

