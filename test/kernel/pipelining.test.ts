/**
 * Pipelining past the usual depth (issue 8): many requests in one write,
 * answered in order by real servers. Up to 32 outstanding requests per
 * connection are kept whole (head, bytes, status, in order, `pipelined` after
 * the first); past 32 the extra exchanges still come, in order, with status
 * and bytes but flagged `headMissing` (counted in kernel.headless), never
 * dropped. Judged against what the peers saw: the bytes each client received
 * (cut apart by their own framing), nginx's access log, wrk's count.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Exchange } from '../../src/capture/decoder';
import { describe as describeExchange, freePort, kernelSkipReason, Recorder, run, sleep, tally, tracedServer } from '../helpers/kernel';
import { startNginx } from '../helpers/nginx';
import { wholeResponses, type WireResponse } from '../helpers/http-wire';
import { pipelineClient } from '../helpers/peers';
import { RawClient, request } from '../helpers/raw-client';

const skip = kernelSkipReason();
const HEADS_KEPT = 32;
const PAGE = '<html><body>' + 'pipelined '.repeat(50) + '</body></html>\n';

/** n GET requests with distinct targets, cycling over `paths`. */
function requests(n: number, paths: string[]): string[] {
  return Array.from({ length: n }, (_, i) => request('GET', `${paths[i % paths.length]}?i=${i}`));
}

function targetOf(req: string): string {
  return req.split(' ')[1];
}

/**
 * One connection's exchanges against the requests sent and the responses
 * received on it: same count, order, bytes and statuses; the first `heads`
 * with their head (method, target), the rest flagged headMissing.
 */
function checkConnection(t: Test, label: string, side: Exchange[], reqs: string[], responses: WireResponse[], heads = reqs.length): void {
  t.equal(side.length, reqs.length, `${label}: one exchange per request (${reqs.length})`);
  t.equal(responses.length, reqs.length, `${label}: the peer got one response per request`);
  const n = Math.min(side.length, reqs.length);
  const got = side.slice(0, n);
  t.same(got.map((e) => e.status), responses.slice(0, n).map((r) => r.status), `${label}: statuses in order`);
  const kept = Math.min(heads, n);
  t.same(got.slice(0, kept).map((e) => e.requestBytes), reqs.slice(0, kept).map((r) => r.length), `${label}: request bytes in order`);
  if (n > heads) {
    t.same(got.slice(heads).map((e) => e.requestBytes), reqs.slice(heads, n).map((r) => r.length), `${label}: request bytes in order, past ${heads} too (each its own)`);
  }
  t.same(got.map((e) => e.responseBytes), responses.slice(0, n).map((r) => r.bytes), `${label}: response bytes in order`);
  t.same(
    got.map((e) => `${e.method} ${e.target}`),
    reqs.slice(0, n).map((r, i) => (i < heads ? `GET ${targetOf(r)}` : ' ')),
    `${label}: the first ${Math.min(heads, n)} with their heads, in order${heads < n ? '; the rest without' : ''}`,
  );
  const role = (e: Exchange) => (e.flags.includes('headMissing') ? 'headMissing' : e.flags.includes('pipelined') ? 'pipelined' : 'first');
  t.same(
    got.map(role),
    got.map((_, i) => (i === 0 ? 'first' : i < heads ? 'pipelined' : 'headMissing')),
    `${label}: pipelined after the first; ${heads < n ? `headMissing exactly past ${heads}` : 'none headMissing'}`,
  );
  t.ok(got.every((e) => !e.aborted), `${label}: none aborted`);
}

/** Waits for n exchanges, without failing: the checks that follow say what is missing. */
async function settle(recorder: Recorder, n: number, timeoutMs = 5000): Promise<void> {
  await recorder.waitForCount(n, timeoutMs).catch(() => {});
}

function lostLine(recorder: Recorder): string {
  const s = recorder.capture.stats();
  return `lost ${JSON.stringify(s.lost.byReason)}, kernel ${JSON.stringify(s.kernel)}`;
}

t.test('10 pipelined GETs in one write to the Node server: 10 exchanges in order, both sides', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t);
  const reqs = requests(10, ['/hello', '/missing', '/fail']);

  // Server side, from a raw client in the test process (not traced itself).
  const client = await RawClient.connect(port);
  await client.send([reqs.join('')]);
  const received = await wholeResponses(() => client.received, 10);
  client.close();
  await settle(recorder, 10);
  checkConnection(t, 'server (raw client)', recorder.exchanges.slice(), reqs, received);

  // Both sides, from a child-process client.
  const seen = recorder.exchanges.length;
  const piped = await pipelineClient(port, reqs);
  t.equal(piped.leftover, 0, 'the client got nothing but the responses');
  t.equal(piped.written, reqs.join('').length, 'the client wrote every request');
  await settle(recorder, seen + 20);
  const later = recorder.exchanges.slice(seen);
  checkConnection(t, 'server (child client)', later.filter((e) => e.direction === 'server'), reqs, piped.responses);
  checkConnection(t, 'client', later.filter((e) => e.direction === 'client'), reqs, piped.responses);
  t.equal(later.filter((e) => e.direction === 'client').reduce((a, e) => a + e.responseBytes, 0), piped.read, 'client: response bytes add up to what it read');
  const stats = recorder.capture.stats();
  t.equal(stats.lost.total, 0, `nothing lost: ${lostLine(recorder)}`);
  t.equal(stats.kernel.headless, 0, 'none headless');
});

t.test('10 pipelined GETs in one write to nginx: 10 exchanges in order, both sides', { skip }, async (t) => {
  const port = await freePort();
  const nginx = await startNginx(port, { 'index.html': PAGE });
  t.teardown(() => nginx.stop());
  const recorder = new Recorder({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());
  const reqs = requests(10, ['/index.html', '/missing', '/dynamic']);

  const client = await RawClient.connect(port);
  await client.send([reqs.join('')]);
  const received = await wholeResponses(() => client.received, 10);
  client.close();
  t.same(tally(received, (r) => String(r.status)), { 200: 7, 404: 3 }, 'nginx answered 7 × 200, 3 × 404');
  await settle(recorder, 10);
  checkConnection(t, 'server (raw client)', recorder.exchanges.slice(), reqs, received);

  const seen = recorder.exchanges.length;
  const piped = await pipelineClient(port, reqs);
  t.equal(piped.leftover, 0, 'the client got nothing but the responses');
  await settle(recorder, seen + 20);
  const later = recorder.exchanges.slice(seen);
  checkConnection(t, 'server (child client)', later.filter((e) => e.direction === 'server'), reqs, piped.responses);
  checkConnection(t, 'client', later.filter((e) => e.direction === 'client'), reqs, piped.responses);
  t.ok(later.filter((e) => e.direction === 'server').every((e) => e.comm === 'nginx'), 'server: nginx');
  t.equal(recorder.capture.stats().lost.total, 0, `nothing lost: ${lostLine(recorder)}`);
});

t.test('32 pipelined GETs in one write to the Node server: all 32 with their heads, in order', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t);
  const reqs = requests(HEADS_KEPT, ['/hello', '/missing', '/hello', '/fail']);
  const piped = await pipelineClient(port, reqs);
  t.equal(piped.leftover, 0, 'the client got nothing but the responses');
  await settle(recorder, 2 * reqs.length);
  for (const direction of ['server', 'client'] as const) {
    checkConnection(t, direction, recorder.exchanges.filter((e) => e.direction === direction), reqs, piped.responses);
  }
  const stats = recorder.capture.stats();
  t.equal(stats.kernel.headless, 0, 'none headless');
  t.equal(stats.lost.total, 0, `nothing lost: ${lostLine(recorder)}`);
});

t.test('40 pipelined GETs in one write to the Node server: 40 exchanges, the last 8 without heads', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t);
  const reqs = requests(40, ['/hello', '/missing', '/hello', '/fail']);
  // All 40 are outstanding at once on both sides: the client writes them in
  // one write, and the Node server reads the one 2 KB segment in one read
  // (64 KiB buffer), before it answers any.
  const piped = await pipelineClient(port, reqs);
  t.equal(piped.leftover, 0, 'the client got nothing but the responses');
  t.equal(piped.responses.length, 40, 'the client got 40 responses');
  await settle(recorder, 2 * reqs.length, 10_000);
  let flagged = 0;
  for (const direction of ['server', 'client'] as const) {
    const side = recorder.exchanges.filter((e) => e.direction === direction);
    checkConnection(t, direction, side, reqs, piped.responses, HEADS_KEPT);
    t.equal(side.reduce((a, e) => a + e.responseBytes, 0), piped.read, `${direction}: response bytes add up to what the client received`);
    t.equal(side.reduce((a, e) => a + e.requestBytes, 0), piped.written, `${direction}: request bytes add up to what the client sent`);
    flagged += side.filter((e) => e.flags.includes('headMissing')).length;
  }
  const stats = recorder.capture.stats();
  t.equal(stats.kernel.headless, flagged, 'kernel.headless counts the exchanges flagged headMissing');
  t.equal(stats.kernel.lostResponseNoRequest, 0, 'no response without its request');
  t.equal(stats.lost.total, 0, `nothing lost: ${lostLine(recorder)}`);
  if (t.passing() === false) t.comment(recorder.exchanges.map(describeExchange).join('\n'));
});

t.test('wrk, 8 requests per write, against nginx with an access log: every exchange, both sides', { skip }, async (t) => {
  const CONNECTIONS = 16;
  const DEPTH = 8;
  const port = await freePort();
  const nginx = await startNginx(port, { 'index.html': PAGE }, { accessLog: true });
  t.teardown(() => nginx.stop());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrk-pipeline-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'pipeline.lua');
  // wrk counts the requests in the string at start-up and sends the whole
  // string in one write per round; it sends the next once all 8 came back.
  fs.writeFileSync(
    script,
    `init = function(args)
  local r = {}
  for i = 1, ${DEPTH} do r[i] = wrk.format(nil, "/index.html") end
  req = table.concat(r)
end
request = function() return req end
`,
  );
  // The size of one whole response, from nginx's own log of a request made before capture.
  const probe = await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/index.html`]);
  t.equal(probe.code, 0, 'probe');
  const whole = nginx.accessLog()[0]?.bytesSent;
  t.ok(whole > PAGE.length, `a whole response is ${whole} bytes`);

  const recorder = new Recorder({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());
  const wrk = await run('wrk', ['-t1', `-c${CONNECTIONS}`, '-d2s', '-s', script, `http://127.0.0.1:${port}/`], 30_000);
  t.equal(wrk.code, 0, `wrk ran: ${wrk.stderr}`);
  const completed = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1]);
  t.ok(completed > 1000, `wrk completed ${completed} requests`);
  t.notMatch(wrk.stdout, /Non-2xx|Socket errors/, 'no errors');

  // nginx writes an access-log line as it finishes each request.
  await sleep(300);
  const logged = () => nginx.accessLog().slice(1);
  await recorder
    .waitFor((all) => all.filter((e) => e.direction === 'server').length >= logged().length && all.filter((e) => e.direction === 'client' && !e.aborted).length >= completed, 20_000)
    .catch(() => {});
  await sleep(300);
  const log = logged();
  const all = recorder.exchanges;
  const server = all.filter((e) => e.direction === 'server');
  const client = all.filter((e) => e.direction === 'client');
  const serverDone = server.filter((e) => !e.aborted);
  const clientDone = client.filter((e) => !e.aborted);
  const inFlight = CONNECTIONS * DEPTH;
  // When wrk stops it closes its sockets with responses unread; nginx then
  // fails to send some responses whole (the write fails on the reset) and
  // still logs them, with the bytes it did send.
  const sentWhole = log.filter((l) => l.bytesSent === whole);
  const cutShort = log.filter((l) => l.bytesSent !== whole);
  const sumOf = <T>(items: T[], f: (x: T) => number) => items.reduce((a, x) => a + f(x), 0);
  const sorted = (v: number[]) => v.slice().sort((a, b) => a - b);

  t.ok(sentWhole.length >= completed && log.length <= completed + inFlight, `nginx logged ${log.length} (${sentWhole.length} sent whole) for ${completed} counted by wrk (+ at most ${inFlight} in flight at its stop)`);
  t.ok(cutShort.length <= CONNECTIONS, `${cutShort.length} responses cut short by wrk's stop, at most one per connection`);
  t.equal(serverDone.length, sentWhole.length, 'server: one complete exchange per response nginx sent whole');
  t.same(tally(serverDone, (e) => `${e.method} ${e.target} ${e.status}`), tally(sentWhole, (l) => `${l.method} ${l.target} ${l.status}`), 'server: method, target and status as nginx logged them');
  t.equal(sumOf(serverDone, (e) => e.responseBytes), sumOf(sentWhole, (l) => l.bytesSent), 'server: response bytes add up to nginx $bytes_sent');
  t.equal(sumOf(serverDone, (e) => e.requestBytes), sumOf(sentWhole, (l) => l.requestLength), 'server: request bytes add up to nginx $request_length');
  const serverAborted = server.filter((e) => e.aborted);
  t.ok(serverAborted.length <= inFlight, `server: ${serverAborted.length} aborted, at most ${inFlight} (read by nginx when wrk closed)`);
  t.same(
    sorted(serverAborted.filter((e) => e.responseBytes > 0).map((e) => e.responseBytes)),
    sorted(cutShort.filter((l) => l.bytesSent > 0).map((l) => l.bytesSent)),
    'server: the aborted exchanges with a partial response sent what nginx logged for those it cut short',
  );
  t.equal(clientDone.length, completed, 'client: one complete exchange per response wrk counted');
  t.ok(clientDone.every((e) => e.method === 'GET' && e.target === '/index.html' && e.status === 200 && e.responseBytes === whole), `client: all GET /index.html 200, ${whole} bytes`);
  t.ok(client.length - clientDone.length <= inFlight, `client: ${client.length - clientDone.length} aborted, at most ${inFlight} (in flight when wrk stopped)`);
  t.ok(client.every((e) => e.comm === 'wrk') && server.every((e) => e.comm === 'nginx'), 'process names');
  // wrk sends a round only when the last one was all answered: the first of
  // each round finds nothing outstanding, the other 7 are pipelined.
  const first = serverDone.filter((e) => !e.flags.includes('pipelined')).length;
  t.ok(first >= Math.floor(serverDone.length / DEPTH) - CONNECTIONS && first <= Math.ceil(serverDone.length / DEPTH) + CONNECTIONS, `server: ${first} of ${serverDone.length} not pipelined: one per round of ${DEPTH}`);
  const stats = recorder.capture.stats();
  t.equal(stats.kernel.headless, 0, 'depth 8: no exchange without its head');
  t.equal(stats.kernel.lostResponseNoRequest, 0, 'no response without its request');
  t.equal(stats.lost.total, 0, `nothing lost: ${lostLine(recorder)}`);
  if (t.passing() === false) t.comment(`nginx cut short: ${JSON.stringify(cutShort)}; server aborted: ${serverAborted.map(describeExchange).join(' | ')}`);
});
