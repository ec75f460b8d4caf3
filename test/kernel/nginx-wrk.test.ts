/**
 * nginx from Debian (recvfrom + writev, body by sendfile) under a bounded wrk
 * run: every exchange wrk completed is captured on both sides, with the
 * exact response size; only the few in flight when wrk stopped may differ.
 */
import t from 'tap';
import { startNginx } from '../helpers/nginx';
import { freePort, kernelSkipReason, Recorder, run, sleep, tally } from '../helpers/kernel';

const CONNECTIONS = 8;
const PAGE = '<html><body>' + 'nginx test page '.repeat(100) + '</body></html>\n';

t.test('nginx under wrk', { skip: kernelSkipReason() }, async (t) => {
  const port = await freePort();
  const nginx = await startNginx(port, { 'index.html': PAGE });
  t.teardown(() => nginx.stop());

  // The exact size of one response, measured before capture starts.
  const probe = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{size_header} %{size_download}', `http://127.0.0.1:${port}/index.html`]);
  const [headerBytes, bodyBytes] = probe.stdout.split(' ').map(Number);
  t.equal(bodyBytes, PAGE.length);

  const recorder = new Recorder({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());
  const wrk = await run('wrk', ['-t1', `-c${CONNECTIONS}`, '-d2s', `http://127.0.0.1:${port}/index.html`]);
  t.equal(wrk.code, 0, 'wrk ran');
  const completed = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1]);
  t.ok(completed > 1000, `wrk completed ${completed} requests`);
  t.notMatch(wrk.stdout, /Non-2xx/, 'all 2xx');

  await recorder.waitFor((all) => all.filter((e) => e.direction === 'server').length >= completed, 10_000);
  await sleep(300);
  const all = recorder.exchanges;
  for (const [direction, comm] of [
    ['server', 'nginx'],
    ['client', 'wrk'],
  ] as const) {
    const side = all.filter((e) => e.direction === direction);
    const done = side.filter((e) => !e.aborted);
    t.ok(done.length >= completed && done.length <= completed + CONNECTIONS, `${direction}: ${done.length} complete exchanges for ${completed} completed by wrk (+ at most ${CONNECTIONS} in flight)`);
    t.ok(side.length - done.length <= CONNECTIONS, `${direction}: at most ${CONNECTIONS} aborted (in flight when wrk stopped)`);
    t.same(tally(done, (e) => `${e.method} ${e.path} ${e.status}`), { 'GET /index.html 200': done.length }, `${direction}: all GET /index.html 200`);
    t.equal(done.filter((e) => e.responseBytes !== headerBytes + bodyBytes).length, 0, `${direction}: every response is ${headerBytes + bodyBytes} bytes`);
    t.ok(side.every((e) => e.comm === comm), `${direction}: process ${comm}`);
  }
  const stats = recorder.capture.stats();
  t.equal(stats.lost.total, 0, `nothing lost: ${JSON.stringify(stats.lost.byReason)}`);
});
