/**
 * The real agent (real eBPF, in-process) under traffic while WebSocket
 * clients flood it (issue 9, defect 1): ten dashboards with ten costly
 * subscriptions each, and connection after connection sending 500
 * subscribes, over a store of many series. Before the fix every subscription
 * ran a full store query on the main thread each second and the capture fell
 * behind until the ring overflowed; now nothing may be lost and every request
 * must be counted exactly. The ring (8 MiB: 256 bytes a record, about 1 s of
 * this traffic on an idle machine, more on a loaded one, which sends it
 * slower) outlasts the stalls of a loaded machine; the traffic is more than
 * twice the ring (checked below), so a consumer that falls behind for good,
 * as it did, loses exchanges here.
 */
import path from 'node:path';
import t from 'tap';
import { startAgent } from '../../src/agent/agent';
import { loadAddon } from '../../src/capture/addon-load';
import { Capture } from '../../src/capture/capture';
import { wallMinusMonotonicNs } from '../../src/capture/clock';
import { loadAnalyticsOptions } from '../../src/config/analytics-config';
import { FIXTURES, freePort, kernelSkipReason, nodeServer, run, sleep, stopChild } from '../helpers/kernel';
import { connect, fillStore, probeResponsiveness, type LiveClient } from '../helpers/live';

const REQUESTS = 40_000;
const SERIES = 2000;
const RING_BYTES = 8 << 20;

t.test('a WebSocket flood while traffic runs: nothing lost, every request counted', { skip: kernelSkipReason() }, async (t) => {
  const serverPort = await freePort();
  const server = await nodeServer(serverPort);
  t.teardown(() => stopChild(server));
  const config = loadAnalyticsOptions(undefined, {
    HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(await freePort()),
    HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '127.0.0.1',
    HTTP_TRACER_ANALYTICS_WORKER_THREADS: '2',
    HTTP_TRACER_DATA_DIR: t.testdir({}),
  });
  const agent = await startAgent({
    config,
    clockOffsetMs: Number(wallMinusMonotonicNs(loadAddon())) / 1e6,
    startCapture: (onBatch) => Capture.start({ ports: { allow: [serverPort] }, ringBufferBytes: RING_BYTES }, onBatch),
  });
  t.teardown(() => agent.stop());
  fillStore(agent.engine, SERIES, Date.now());
  const ws = agent.url.replace('http', 'ws');

  // Ten dashboards: 5 queries shared by all, 5 of their own; each reads every series.
  const dashboards: LiveClient[] = [];
  for (let k = 0; k < 10; k++) {
    const c = await connect(`${ws}/ws/dashboard-${k}`);
    dashboards.push(c);
    for (let j = 0; j < 5; j++) {
      c.send({ type: 'subscribe', query_id: `shared-${j}`, window: `${j + 1}m`, side: 'server' });
      c.send({ type: 'subscribe', query_id: `own-${j}`, window: `${10 * (1 + k * 5 + j)}s` });
    }
  }
  const probe = probeResponsiveness(agent.url);
  const trafficStarted = performance.now();
  const traffic = run(process.execPath, [path.join(FIXTURES, 'burst-client.js'), String(serverPort), String(REQUESTS), '8'], 120_000);
  let trafficDone = false;
  void traffic.finally(() => (trafficDone = true));
  // Flooders, one after another, for as long as the traffic runs.
  const floods: number[] = [];
  while (!trafficDone) {
    const f = await connect(`${ws}/ws/flood-${floods.length}`);
    for (let i = 0; i < 500; i++) f.send({ type: 'subscribe', query_id: `f${i % 10}`, window: `${10 * (1 + (i % 90))}s` });
    floods.push((await f.closed).code);
    await sleep(100);
  }
  const result = await traffic;
  t.comment(`${REQUESTS} requests in ${((performance.now() - trafficStarted) / 1000).toFixed(1)} s`);
  const { maxLateMs, maxHealthMs, healthAnswers } = await probe.stop();

  t.equal(result.code, 0, `the client ran: ${result.stderr}`);
  t.same(JSON.parse(result.stdout), { completed: REQUESTS, statuses: { 200: REQUESTS } });
  t.ok(floods.length >= 1, `${floods.length} flooding connections`);
  t.same(floods, floods.map(() => 1008), 'each flooder closed as a policy violation');
  for (const [k, c] of dashboards.entries()) {
    for (let j = 0; j < 5; j++) {
      for (const id of [`shared-${j}`, `own-${j}`]) await c.next('realtime_update', 30_000, (m) => m.query_id === id);
    }
    t.pass(`dashboard ${k}: every subscription answered`);
    c.ws.close();
  }

  // Every exchange reaches the store: the server's and the client's side of each request.
  type Metrics = { totals: { requests: number } };
  // A server is named comm:port, a client by its comm (the store's svc* series are neither).
  const counted = async (side: string, service: string) =>
    ((await (await fetch(`${agent.url}/api/metrics?window=5m&side=${side}&service=${encodeURIComponent(service)}`)).json()) as Metrics).totals.requests;
  const deadline = Date.now() + 15_000;
  while ((await counted('server', `node:${serverPort}`)) < REQUESTS && Date.now() < deadline) await sleep(200);
  t.equal(await counted('server', `node:${serverPort}`), REQUESTS, 'server side: every request counted');
  t.equal(await counted('client', 'node'), REQUESTS, 'client side: every request counted');
  const capture = agent.capture.stats();
  const engine = agent.engine.stats();
  // Only meaningful if the traffic could not all have waited in the ring.
  t.ok(capture.bytes > 2 * RING_BYTES, `the traffic (${(capture.bytes / 2 ** 20).toFixed(1)} MiB) is more than twice the ring (${RING_BYTES / 2 ** 20} MiB)`);
  t.equal(capture.lost.total, 0, `capture lost nothing: ${JSON.stringify(capture.lost.byReason)}`);
  t.equal(engine.droppedEvents, 0, 'the engine dropped nothing');
  t.equal(capture.records, capture.kernel.exchanges + capture.kernel.tcpEvents, `delivered ${capture.records} = framed ${capture.kernel.exchanges} + TCP events ${capture.kernel.tcpEvents}`);

  const live = (await (await fetch(`${agent.url}/api/stats`)).json()) as { websocket: { closedFlooding: number; evaluations: number; maxEvaluationMs: number } };
  t.equal(live.websocket.closedFlooding, floods.length);
  t.ok(healthAnswers > 0, `/api/health answered ${healthAnswers} times during the flood`);
  // Generous: one evaluation over SERIES series can take a few hundred ms on a loaded machine (more on 2 busy
  // cores); inline, the loop was held 7 s and more.
  t.ok(maxHealthMs < 5000 && maxLateMs < 5000, `/api/health took ${maxHealthMs.toFixed(0)} ms at most, the loop was held ${maxLateMs.toFixed(0)} ms (one evaluation: ${live.websocket.maxEvaluationMs.toFixed(0)} ms at most, ${live.websocket.evaluations} in all)`);
});
