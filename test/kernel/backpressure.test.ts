/**
 * Back-pressure from JavaScript into the kernel ring buffer, with real eBPF
 * and nginx under wrk on loopback: a consumer slower than the kernel loses
 * nothing while the ring has room (every framed exchange is delivered); a
 * stalled consumer with a tiny ring loses only what the kernel counts as
 * ringbuf_full, and stop() still resolves; the whole agent (engine with small
 * shard queues) drops nothing under the same burst.
 */
import t, { type Test } from 'tap';
import { startAgent } from '../../src/agent/agent';
import { loadAddon } from '../../src/capture/addon-load';
import { Capture, type CaptureStats } from '../../src/capture/capture';
import { wallMinusMonotonicNs } from '../../src/capture/clock';
import { decodeExchanges, decodeTcpEvents, type Exchange } from '../../src/capture/decoder';
import { loadAnalyticsOptions } from '../../src/config/analytics-config';
import { freePort, kernelSkipReason, run, sleep } from '../helpers/kernel';
import { startNginx, type Nginx } from '../helpers/nginx';

const PAGE = '<html><body>' + 'back-pressure '.repeat(40) + '</body></html>\n';

async function nginxOnFreePort(t: Test): Promise<{ port: number; nginx: Nginx }> {
  const port = await freePort();
  const nginx = await startNginx(port, { 'index.html': PAGE });
  t.teardown(() => nginx.stop());
  return { port, nginx };
}

/** A bounded wrk run on loopback; returns the requests it completed. */
async function wrk(t: Test, port: number, threads: number, connections: number, seconds: number): Promise<number> {
  // --timeout: with hundreds of connections on two cores a response can take over wrk's default 2 s.
  const r = await run('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', `http://127.0.0.1:${port}/index.html`], (seconds + 30) * 1000);
  t.equal(r.code, 0, 'wrk ran');
  t.notMatch(r.stdout, /Non-2xx|Socket errors/, `every response 2xx, no socket errors: ${r.stdout}`);
  return Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
}

/**
 * A ring that holds a whole one-second burst however fast this machine runs
 * wrk (up to 90 000 requests a second alone: two exchanges each, about 350
 * bytes a record, 63 MB), so that what is measured is back-pressure, not
 * the ring's size against the machine's speed.
 */
const BURST_RING_BYTES = 128 << 20;

const RING_FULL = ['ringbuf_full', 'tcp_ringbuf_full'];
const otherLosses = (s: CaptureStats): Record<string, number> => Object.fromEntries(Object.entries(s.lost.byReason).filter(([k]) => !RING_FULL.includes(k)));

t.test('a slow consumer loses nothing: wrk -t2 -c500 waits in the ring buffer', { skip: kernelSkipReason() }, async (t) => {
  const CONNECTIONS = 500;
  const { port } = await nginxOnFreePort(t);
  const exchanges: Exchange[] = [];
  let tcpEvents = 0;
  let delivered = 0;
  // One batch at a time, each held 20 ms: far slower than the kernel frames in small batches.
  let tail: Promise<void> = Promise.resolve();
  const capture = Capture.start({ ports: { allow: [port] }, ringBufferBytes: BURST_RING_BYTES }, (batch, records) => {
    delivered += records;
    tail = tail.then(async () => {
      await sleep(20);
      exchanges.push(...decodeExchanges(batch));
      tcpEvents += decodeTcpEvents(batch).length;
    });
    return tail;
  });
  t.teardown(() => capture.stop());

  const completed = await wrk(t, port, 2, CONNECTIONS, 1);
  t.ok(completed > 1000, `wrk completed ${completed} requests`);
  await capture.stop();

  const stats = capture.stats();
  t.ok(stats.stalls > 0, `the consumer held the poll thread back ${stats.stalls} times (${stats.stalledMs.toFixed(0)} ms)`);
  t.equal(stats.lost.total, 0, `nothing lost: ${JSON.stringify(stats.lost.byReason)}`);
  t.equal(delivered, stats.kernel.exchanges + stats.kernel.tcpEvents, `delivered ${delivered} = framed ${stats.kernel.exchanges} + TCP events ${stats.kernel.tcpEvents}`);
  t.equal(stats.records, delivered, 'the addon counts what it delivered');
  t.equal(exchanges.length, stats.kernel.exchanges, 'every framed exchange decodes');
  t.equal(tcpEvents, stats.kernel.tcpEvents, 'every TCP event decodes');
  const server = exchanges.filter((e) => e.direction === 'server');
  const done = server.filter((e) => !e.aborted);
  t.ok(done.length >= completed && done.length <= completed + CONNECTIONS, `server: ${done.length} complete for ${completed} completed by wrk (+ at most ${CONNECTIONS} in flight)`);
  t.ok(server.length - done.length <= CONNECTIONS, `server: ${server.length - done.length} aborted, at most ${CONNECTIONS} (in flight when wrk stopped)`);
  t.equal(done.filter((e) => e.comm !== 'nginx' || e.method !== 'GET' || e.path !== '/index.html' || e.status !== 200).length, 0, 'server: all nginx GET /index.html 200');
});

t.test('a stalled consumer and a 64 KiB ring: losses only as ringbuf_full, and stop() resolves', { skip: kernelSkipReason() }, async (t) => {
  const CONNECTIONS = 8;
  const { port } = await nginxOnFreePort(t);
  let delivered = 0;
  let held = 0;
  // Nothing is consumed until stop() has been called.
  let openGate!: () => void;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  const capture = Capture.start({ ports: { allow: [port] }, ringBufferBytes: 64 * 1024 }, (_batch, records) => {
    delivered += records;
    held++;
    return gate;
  });
  t.teardown(() => {
    openGate();
    return capture.stop();
  });

  const completed = await wrk(t, port, 1, CONNECTIONS, 1);
  t.ok(completed > 1000, `wrk completed ${completed} requests`);
  const before = capture.stats();
  t.equal(held, 4, 'the poll thread handed over 4 batches (its credits), then stopped taking records out of the ring');
  t.ok(before.stalls >= 1, `the poll thread waited for a credit (${before.stalls} times)`);

  // The JS thread joins the poll thread while no credit can come back: stop must not wait for one.
  let resolved = false;
  const stopped = capture.stop().then(() => (resolved = true));
  await sleep(100);
  t.notOk(resolved, 'stop() waits for the held batches');
  openGate();
  await Promise.race([stopped, sleep(5000).then(() => Promise.reject(new Error('stop() did not resolve within 5 s')))]);

  const stats = capture.stats();
  const lost = stats.lost.byReason.ringbuf_full;
  t.ok(lost > 0, `the ring overflowed: ${lost} exchanges lost as ringbuf_full`);
  t.equal(stats.lost.total, lost + stats.lost.byReason.tcp_ringbuf_full, 'a full ring is the only loss (exchanges and TCP events)');
  t.same(otherLosses(stats), Object.fromEntries(Object.keys(otherLosses(stats)).map((k) => [k, 0])), 'no other reason counts anything');
  t.equal(delivered, stats.kernel.exchanges + stats.kernel.tcpEvents, `every framed exchange and TCP event was delivered: ${delivered} (the held batches and the ring drained at stop)`);
  t.equal(stats.records, delivered, 'the addon counts what it delivered');
  // Each request wrk completed is one server and one client exchange: framed or counted lost.
  const seen = stats.kernel.exchanges + lost;
  t.ok(seen >= 2 * completed && seen <= 2 * (completed + CONNECTIONS), `framed ${stats.kernel.exchanges} + lost ${lost} = ${seen}: two per request wrk completed (${completed}), + in flight`);
});

t.test('the agent under wrk -t2 -c500 with small shard queues: the engine drops nothing', { skip: kernelSkipReason() }, async (t) => {
  const { port } = await nginxOnFreePort(t);
  const config = loadAnalyticsOptions(undefined, {
    HTTP_TRACER_ANALYTICS_DASHBOARD_PORT: String(await freePort()),
    HTTP_TRACER_ANALYTICS_DASHBOARD_ADDRESS: '127.0.0.1',
    HTTP_TRACER_ANALYTICS_WORKER_THREADS: '1',
    // Smaller than one full batch: the engine keeps the capture waiting, often.
    HTTP_TRACER_ANALYTICS_BUFFER_SIZE: '1000',
    HTTP_TRACER_ANALYTICS_ENABLE_ALERTING: 'false',
  });
  const agent = await startAgent({
    config,
    clockOffsetMs: Number(wallMinusMonotonicNs(loadAddon())) / 1e6,
    startCapture: (onBatch) => Capture.start({ ports: { allow: [port] }, ringBufferBytes: BURST_RING_BYTES }, onBatch),
  });
  t.teardown(() => agent.stop());

  const completed = await wrk(t, port, 2, 500, 1);
  t.ok(completed > 1000, `wrk completed ${completed} requests`);
  await agent.stop();

  const capture = agent.capture.stats();
  const engine = agent.engine.stats();
  t.equal(capture.lost.total, 0, `capture lost nothing: ${JSON.stringify(capture.lost.byReason)}`);
  t.equal(capture.records, capture.kernel.exchanges + capture.kernel.tcpEvents, `delivered ${capture.records} = framed ${capture.kernel.exchanges} + TCP events ${capture.kernel.tcpEvents}`);
  t.equal(engine.droppedEvents, 0, 'the engine dropped nothing (queue_full)');
  t.equal(engine.eventsIn, capture.records, 'the engine took every delivered record');
  t.equal(engine.eventsProcessed, engine.eventsIn, 'and processed them all');
});
