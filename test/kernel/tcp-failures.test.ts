/**
 * Connection failures from the kernel, exactly: a connect refused on
 * 127.0.0.1 (counted once, for the process that called connect, with reason
 * refused) and a server that resets its connection (Node's
 * socket.resetAndDestroy(): SO_LINGER 0 and close), seen as a reset sent by
 * the server and a reset received by its client.
 */
import t from 'tap';
import { freePort, kernelSkipReason, run, startChild, stopChild, waitForPort } from '../helpers/kernel';
import { TcpRecorder } from '../helpers/tcp-recorder';

const skip = kernelSkipReason();

/** A Python client that connects, sends a line, reads until the connection ends, and prints how it ended. */
const PY_CLIENT = `
import socket, sys
try:
    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
except OSError as e:
    print('connect', e.errno); sys.exit(0)
s.sendall(b'hello\\n')
try:
    while s.recv(100): pass
    print('eof')
except OSError as e:
    print('recv', e.errno)
`;

t.test('a refused connect is one failure, of the process that connected, with reason refused', { skip }, async (t) => {
  const port = await freePort();
  const recorder = await TcpRecorder.start({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());

  const client = await run('python3', ['-c', PY_CLIENT, String(port)]);
  t.equal(client.stdout.trim(), 'connect 111', 'the client saw ECONNREFUSED');
  await recorder.waitFor('the failed connect', (events) => events.some((e) => e.kind === 'connectFailed'));

  const failures = recorder.events.filter((e) => e.kind === 'connectFailed');
  t.equal(failures.length, 1, 'counted once');
  t.match(failures[0], { direction: 'client', comm: 'python3', error: 111, peerAddress: '127.0.0.1', peerPort: port, localAddress: '127.0.0.1' });
  t.equal(failures[0].tgid, failures[0].pid, 'the single-threaded client: thread = process');
  t.ok(failures[0].durationNs > 0 && failures[0].durationNs < 100_000_000, `failed within ${failures[0].durationNs} ns of its SYN`);
  t.same(recorder.events.map((e) => `${e.kind} ${e.tgid}`), [`resetReceived ${failures[0].tgid}`, `connectFailed ${failures[0].tgid}`], 'the refusal arrives as a reset, then the failure; nothing else on the port');

  t.same(await recorder.values({ metric: 'network_connect_failures_total', by: ['service', 'reason', 'server_port', 'peer'] }), { [`python3 refused ${port} 127.0.0.1`]: 1 });
  t.same(await recorder.values({ metric: 'network_connections_total', by: ['service', 'side', 'state'] }), { 'python3 client failed': 1 });
  t.same(await recorder.values({ metric: 'tcp_resets_total', by: ['service', 'side', 'direction'] }), { 'python3 client received': 1 });
  t.same(await recorder.values({ metric: 'network_connect_duration_seconds', by: [] }), {}, 'no handshake time for a failed connect');
});

t.test('a server that closes with SO_LINGER 0: a reset sent by the server, received by the client', { skip }, async (t) => {
  const port = await freePort();
  const server = startChild(process.execPath, [
    '-e',
    `require('net').createServer((s) => s.once('data', () => s.resetAndDestroy())).listen(${port}, '127.0.0.1')`,
  ]);
  await waitForPort(port);
  const recorder = await TcpRecorder.start({ ports: { allow: [port] } });
  t.teardown(async () => {
    await recorder.stop();
    await stopChild(server);
  });

  const client = await run('python3', ['-c', PY_CLIENT, String(port)]);
  t.equal(client.stdout.trim(), 'recv 104', 'the client saw ECONNRESET');
  await recorder.waitFor('both closes', (events) => events.filter((e) => e.kind === 'close').length === 2);

  const of = (kind: string) => recorder.events.filter((e) => e.kind === kind);
  t.equal(of('resetSent').length, 1, 'one reset sent');
  t.match(of('resetSent')[0], { direction: 'server', comm: 'node', tgid: server.pid, localPort: port });
  t.equal(of('resetReceived').length, 1, 'one reset received');
  t.match(of('resetReceived')[0], { direction: 'client', comm: 'python3', peerPort: port });
  t.equal(of('accept').length, 1);
  t.equal(of('accept')[0].tgid, server.pid, 'the accept is the server process\'s');
  t.equal(of('connect').length, 1);
  t.equal(of('connect')[0].tgid, of('resetReceived')[0].tgid, 'the reset is attributed to the process that connected (it arrives in softirq)');
  const serverClose = of('close').find((e) => e.direction === 'server')!;
  t.equal(serverClose.bytesReceived, 6, 'the server received "hello\\n" before it reset (no FIN)');

  t.same(await recorder.values({ metric: 'tcp_resets_total', by: ['service', 'side', 'direction'] }), { [`node:${port} server sent`]: 1, 'python3 client received': 1 });
  t.same(await recorder.values({ metric: 'network_connections_total', by: ['service', 'side', 'state'] }), { [`node:${port} server established`]: 1, 'python3 client established': 1 });
  t.same(await recorder.values({ metric: 'network_accepts_total', by: ['service'] }), { [`node:${port}`]: 1 });
  t.same(await recorder.values({ metric: 'network_connect_failures_total', by: [] }), {}, 'no connect failed');
});

