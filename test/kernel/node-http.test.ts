/**
 * Node's http server and client, with and without keep-alive: every exchange
 * seen exactly once on each side, with method, path, status, latency and
 * byte counts equal to what was sent.
 */
import t from 'tap';
import { kernelSkipReason, nodeClient, tally, tracedServer, type PlannedRequest } from '../helpers/kernel';

const plan: PlannedRequest[] = [
  { method: 'GET', path: '/hello' },
  { method: 'GET', path: '/hello?x=1' },
  { method: 'GET', path: '/hello' },
  { method: 'GET', path: '/missing' },
  { method: 'GET', path: '/missing' },
  { method: 'GET', path: '/fail' },
  { method: 'POST', path: '/echo', body: 'a'.repeat(1000) },
  { method: 'POST', path: '/echo', body: '{"k":"v"}' },
  { method: 'DELETE', path: '/hello' },
  { method: 'GET', path: '/wait50' },
  { method: 'GET', path: '/wait50' },
  { method: 'GET', path: '/chunked' },
];

const expected = {
  'GET /hello 200': 3,
  'GET /missing 404': 2,
  'GET /fail 500': 1,
  'POST /echo 200': 2,
  'DELETE /hello 200': 1,
  'GET /wait50 200': 2,
  'GET /chunked 200': 1,
};

// Latency of the 50 ms endpoint: at least 50 ms; at most 1 s, far above what
// a loaded machine adds and far below a unit slip (µs for ns is 1000×).
const LATENCY_MAX_MS = 1000;

for (const keepAlive of [true, false]) {
  t.test(`node http ${keepAlive ? 'with' : 'without'} keep-alive`, { skip: kernelSkipReason() }, async (t) => {
    const { port, server, recorder } = await tracedServer(t);

    const results = await nodeClient(port, keepAlive, plan);
    const all = await recorder.waitForCount(plan.length * 2);
    t.equal(all.length, plan.length * 2, 'one exchange per request on each side, no more');

    for (const direction of ['server', 'client'] as const) {
      const side = all.filter((e) => e.direction === direction);
      t.same(tally(side, (e) => `${e.method} ${e.path} ${e.status}`), expected, `${direction}: counts by method, path, status`);
      t.same(side.filter((e) => e.aborted), [], `${direction}: nothing aborted`);
      t.same(
        side.map((e) => e.target),
        plan.map((p) => p.path),
        `${direction}: in request order`,
      );
      side.forEach((e, i) => {
        t.equal(e.requestBytes, results[i].written, `${direction} ${plan[i].method} ${plan[i].path}: request bytes`);
        t.equal(e.responseBytes, results[i].read, `${direction} ${plan[i].method} ${plan[i].path}: response bytes`);
        t.equal(e.status, results[i].status);
      });
      for (const e of side.filter((e) => e.path === '/wait50')) {
        const ms = e.durationNs / 1e6;
        t.ok(ms >= 50 && ms <= LATENCY_MAX_MS, `${direction} /wait50 latency ${ms.toFixed(2)} ms in [50, ${LATENCY_MAX_MS}]`);
      }
      t.same(
        side.find((e) => e.path === '/chunked')?.flags.filter((f) => f !== 'newConnection'),
        ['chunked'],
        `${direction}: chunked response flagged`,
      );
      const connections = keepAlive ? 1 : plan.length;
      t.equal(side.filter((e) => e.flags.includes('newConnection')).length, connections, `${direction}: ${connections} new connection(s) flagged`);
      t.ok(side[0].flags.includes('newConnection'), `${direction}: the first exchange opens its connection`);
    }
    const servers = all.filter((e) => e.direction === 'server');
    t.ok(servers.every((e) => e.tgid === server.pid && e.localPort === port && e.comm === 'node'), 'server side: the server process, its port');
    const clients = all.filter((e) => e.direction === 'client');
    t.ok(clients.every((e) => e.peerPort === port && e.peerAddress === '127.0.0.1'), 'client side: peer is the server');
    // The server's exchange lies inside the client's (both sides are in request order, checked above). Each
    // is stamped at its own syscall's exit, on its own CPU: the server's read can be stamped a few µs before
    // the client's write returns, hence 1 ms of slack.
    servers.forEach((e, i) => {
      if (e.path !== '/wait50') return;
      const [serverMs, clientMs] = [e.durationNs / 1e6, (clients[i]?.durationNs ?? NaN) / 1e6];
      t.ok(serverMs <= clientMs + 1, `/wait50 (request ${i}): the server's ${serverMs.toFixed(2)} ms within the client's ${clientMs.toFixed(2)} ms`);
    });
    t.equal(new Set(clients.map((e) => e.localPort)).size, keepAlive ? 1 : plan.length, 'connections: one reused, or one per request');
    t.equal(recorder.capture.stats().lost.total, 0, 'nothing lost');
  });
}
