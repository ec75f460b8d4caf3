/**
 * Exchanges that never complete are reported as aborted, with the reason;
 * bytes that are not HTTP produce nothing and break nothing.
 */
import path from 'node:path';
import t from 'tap';
import { FIXTURES, freePort, kernelSkipReason, nodeServer, Recorder, run, sleep, startChild, tracedServer } from '../helpers/kernel';
import { RawClient, request } from '../helpers/raw-client';

const skip = kernelSkipReason();

/**
 * Waits until the server has read everything the client sent: the server's
 * end of the connection (local port `port`, peer port the client's) holds no
 * unread byte (ss's Recv-Q is 0).
 */
async function serverHasRead(port: number, client: RawClient, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await run('ss', ['-Htn', 'state', 'established', `( sport = :${port} and dport = :${client.socket.localPort} )`]);
    const recvQ = r.stdout.trim().split(/\s+/)[0];
    if (r.code === 0 && recvQ === '0') return;
    if (Date.now() > deadline) throw new Error(`the server has not read the request after ${timeoutMs} ms: ss said ${JSON.stringify(r.stdout + r.stderr)}`);
    await sleep(10);
  }
}

t.test('connection closed mid-exchange: one aborted exchange', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t);
  const client = await RawClient.connect(port);
  const sent = await client.send([request('GET', '/hang')]);
  await sleep(100);
  client.destroy();
  const all = await recorder.waitForCount(1);
  t.equal(all.length, 1);
  t.match(all[0], { method: 'GET', path: '/hang', status: 0, aborted: true, requestBytes: sent, responseBytes: 0 });
  t.same(all[0].flags, ['aborted', 'closed', 'noResponseHead', 'newConnection']);
});

t.test('connection reset while the server is answering: aborted with reset', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t);
  const client = await RawClient.connect(port);
  await client.send([request('GET', '/hang')]);
  await serverHasRead(port, client); // the server has read the request; it never answers
  client.socket.resetAndDestroy();
  const all = await recorder.waitForCount(1);
  t.equal(all.length, 1);
  t.equal(all[0].aborted, true);
  t.same(all[0].flags, ['aborted', 'reset', 'noResponseHead', 'newConnection'], 'the read failed with ECONNRESET before any response');
});

t.test('the server process exits with an exchange open: aborted with processExit', { skip }, async (t) => {
  const port = await freePort();
  const server = await nodeServer(port);
  const recorder = new Recorder({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());
  const client = await RawClient.connect(port);
  await client.send([request('GET', '/hang')]);
  await serverHasRead(port, client);
  server.kill('SIGKILL');
  const all = await recorder.waitForCount(1);
  client.destroy();
  t.equal(all.length, 1);
  t.same(all[0].flags, ['aborted', 'processExit', 'noResponseHead', 'newConnection']);
  t.equal(all[0].tgid, server.pid);
  t.ok(all[0].pid > 0, 'reported by a thread of the exiting process');
});

t.test('an exchange outstanding past the timeout: aborted with timeout', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t, { exchangeTimeoutMs: 300 });
  const client = await RawClient.connect(port);
  const started = Date.now();
  await client.send([request('GET', '/slow?ms=1500')]);
  const all = await recorder.waitForCount(1, 5000);
  t.ok(Date.now() - started >= 300, 'not before the timeout');
  t.same(all[0].flags, ['aborted', 'noResponseHead', 'timeout', 'newConnection']);
  // The late response matches no request and is counted; the connection resynchronises.
  await client.waitForResponses(1);
  await client.send([request('GET', '/hello')]);
  await client.waitForResponses(2);
  await recorder.waitForCount(2);
  client.close();
  t.same(recorder.exchanges.map((e) => `${e.path} ${e.status} ${e.aborted}`), ['/slow 0 true', '/hello 200 false']);
  t.equal(recorder.capture.stats().kernel.lostResponseNoRequest, 1, 'the late response is counted');
});

t.test('garbage and truncated bytes: no exchange, no crash, and later traffic is exact', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t);
  let seed = 7;
  const random = Buffer.alloc(4096);
  for (let i = 0; i < random.length; i++) random[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  const junk: (string | Buffer)[] = [
    random,
    'GE',
    'GET',
    'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    '\r\n\r\n\r\n',
    'POST /echo HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\nxx',
    'GET /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    Buffer.alloc(70_000, 'A'),
  ];
  for (const bytes of junk) {
    const c = await RawClient.connect(port);
    await c.send([bytes]);
    await sleep(30);
    c.destroy();
  }
  await sleep(300);
  // Node answers some junk with 400 and closes; what it answers is not an exchange we invented.
  const fromJunk = recorder.exchanges.filter((e) => !e.aborted);
  t.same(fromJunk.map((e) => e.status).filter((s) => s !== 400), [], 'no exchange but the server\'s own 400s');

  const before = recorder.exchanges.length;
  const good = await RawClient.connect(port);
  await good.send([request('GET', '/hello') + request('GET', '/missing')]);
  await good.waitForResponses(2);
  await recorder.waitForCount(before + 2);
  good.close();
  t.same(recorder.exchanges.slice(before).map((e) => `${e.path} ${e.status}`), ['/hello 200', '/missing 404']);
  t.ok(recorder.capture.stats().kernel.lostUnparsed >= 0, 'stats still answer');
});

t.test('a burst far beyond a tiny ring buffer: losses are counted and everything adds up', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t, { ringBufferBytes: 4096, drainIntervalMs: 50 });
  const burst = startChild(process.execPath, [path.join(FIXTURES, 'burst-client.js'), String(port), '3000', '16']);
  let out = '';
  burst.stdout?.on('data', (d) => (out += d));
  await new Promise((r) => burst.once('exit', r));
  t.same(JSON.parse(out), { completed: 3000, statuses: { 200: 3000 } });
  const capturedOrLost = () => recorder.exchanges.filter((e) => !e.aborted).length + recorder.capture.stats().kernel.lostRingbufFull;
  for (const deadline = Date.now() + 10_000; capturedOrLost() < 2 * 3000 && Date.now() < deadline; ) await sleep(50);
  const stats = recorder.capture.stats();
  const captured = recorder.exchanges.filter((e) => !e.aborted).length;
  t.ok(stats.kernel.lostRingbufFull > 0, `ring buffer losses counted: ${stats.kernel.lostRingbufFull}`);
  t.equal(captured + stats.kernel.lostRingbufFull, 2 * 3000, `captured ${captured} + lost ${stats.kernel.lostRingbufFull} = both sides of 3000 requests`);
  t.equal(stats.kernel.exchanges, captured, 'the kernel counted what it submitted');
  t.equal(recorder.exchanges.filter((e) => e.aborted).length, 0);

  // Still capturing afterwards.
  const after = recorder.exchanges.length;
  const c = await RawClient.connect(port);
  await c.send([request('GET', '/hello')]);
  await c.waitForResponses(1);
  await recorder.waitForCount(after + 1);
  c.close();
  t.equal(recorder.exchanges[after].path, '/hello');
});
