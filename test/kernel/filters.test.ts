/**
 * Port and pid allow/deny lists, applied in the kernel: what they exclude
 * never becomes a record.
 */
import t from 'tap';
import { freePort, kernelSkipReason, nodeClient, nodeServer, Recorder, stopChild, tally } from '../helpers/kernel';

t.test('port and pid allow and deny lists', { skip: kernelSkipReason() }, async (t) => {
  const [portA, portB] = [await freePort(), await freePort()];
  const [a, b] = [await nodeServer(portA), await nodeServer(portB)];
  const onlyA = new Recorder({ pids: { allow: [a.pid!] } });
  const bButNotPortA = new Recorder({ pids: { allow: [a.pid!, b.pid!] }, ports: { deny: [portA] } });
  const bothPortsButNotA = new Recorder({ ports: { allow: [portA, portB] }, pids: { deny: [a.pid!] } });
  t.teardown(async () => {
    await Promise.all([onlyA.stop(), bButNotPortA.stop(), bothPortsButNotA.stop()]);
    await Promise.all([stopChild(a), stopChild(b)]);
  });

  await nodeClient(portA, true, [{ method: 'GET', path: '/hello' }, { method: 'GET', path: '/missing' }]);
  await nodeClient(portB, true, [{ method: 'GET', path: '/hello' }]);
  const side = (r: Recorder) => tally(r.exchanges, (e) => `${e.direction} ${e.localPort === portA || e.peerPort === portA ? 'A' : 'B'} ${e.path}`);

  await onlyA.waitForCount(2);
  t.same(side(onlyA), { 'server A /hello': 1, 'server A /missing': 1 }, 'pid allow: only the server process A');
  await bButNotPortA.waitForCount(1);
  t.same(side(bButNotPortA), { 'server B /hello': 1 }, 'pid allow A and B, port A denied: only B');
  await bothPortsButNotA.waitForCount(4);
  t.same(side(bothPortsButNotA), { 'client A /hello': 1, 'client A /missing': 1, 'client B /hello': 1, 'server B /hello': 1 }, 'ports allowed, pid A denied');
  for (const r of [onlyA, bButNotPortA, bothPortsButNotA]) t.equal(r.capture.stats().lost.total, 0);
});
