/**
 * The agent never captures its own HTTP traffic: this test process is the
 * agent here, so its server and its client are invisible, while another
 * process talking to the same server is seen (on its client side only).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { kernelSkipReason, nodeClient, Recorder, sleep } from '../helpers/kernel';

t.test("the agent's own server and client are never captured", { skip: kernelSkipReason() }, async (t) => {
  const server = http.createServer((_req, res) => res.end('self'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const recorder = new Recorder({ ports: { allow: [port] } });
  t.teardown(async () => {
    await recorder.stop();
    server.close();
  });

  for (let i = 0; i < 5; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/own-${i}`);
    t.equal(await res.text(), 'self');
  }
  await sleep(300);
  t.same(recorder.exchanges, [], 'own client and own server: nothing');

  const results = await nodeClient(port, true, [{ method: 'GET', path: '/from-child' }]);
  t.same(results.map((r) => r.status), [200]);
  const all = await recorder.waitForCount(1);
  t.same(all.map((e) => `${e.direction} ${e.path} ${e.status}`), ['client /from-child 200'], 'only the other process, on its client side');
  t.not(all[0].tgid, process.pid);
});
