/**
 * A connection's life in records: connect and accept attributed to the
 * processes that made them, each side's close with the bytes its tcp_sock
 * counted and its lifetime (established to CLOSE); and a connection the
 * client reset before the server's accept() took it still has its close
 * record (written at the accept).
 */
import { spawn } from 'node:child_process';
import t, { type Test } from 'tap';
import { freePort, kernelSkipReason, run } from '../helpers/kernel';
import { TcpRecorder } from '../helpers/tcp-recorder';

const skip = kernelSkipReason();

/** Accepts one connection (with "wait": only once a line comes on stdin); reads until EOF, answers its byte count, closes. */
const SERVER = `
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', int(sys.argv[1]))); l.listen(); print('listening', flush=True)
if sys.argv[2] == 'wait': sys.stdin.readline()
c, _ = l.accept(); n = 0
while True:
    try: d = c.recv(65536)
    except OSError: break
    if not d: break
    n += len(d)
try: c.sendall(str(n).encode())
except OSError: pass
c.close()
`;

/** Waits 200 ms, sends `bytes` bytes; then "answer": half-closes, reads the answer, closes; or "reset": closes with SO_LINGER 0. */
const CLIENT = `
import socket, struct, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
time.sleep(0.2); s.sendall(b'z' * int(sys.argv[2]))
if sys.argv[3] == 'answer':
    s.shutdown(socket.SHUT_WR); print(s.recv(100).decode())
else:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
`;

/** Starts the server; resolves once it listens, with a promise of its exit and accept() to let a "wait" server accept. */
async function server(t: Test, port: number, mode: 'now' | 'wait'): Promise<{ exited: Promise<unknown>; accept: () => void }> {
  const child = spawn('python3', ['-c', SERVER, String(port), mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill());
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve) => child.stdout!.once('data', resolve));
  return { exited, accept: () => void child.stdin!.end('accept\n') };
}

t.test('connect, accept and both closes, with the bytes and lifetimes the kernel counted', { skip }, async (t) => {
  const port = await freePort();
  const recorder = await TcpRecorder.start({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());
  const { exited } = await server(t, port, 'now');
  const client = await run('python3', ['-c', CLIENT, String(port), '100000', 'answer']);
  t.equal(client.stdout.trim(), '100000');
  await exited;
  await recorder.waitFor('both closes', (events) => events.filter((e) => e.kind === 'close').length === 2);

  t.same(recorder.events.map((e) => `${e.kind} ${e.direction}`).sort(), ['accept server', 'close client', 'close server', 'connect client'].sort(), 'nothing else on the port');
  const [connect, accept] = ['connect', 'accept'].map((k) => recorder.events.find((e) => e.kind === k)!);
  t.equal(connect.comm, 'python3');
  t.equal(accept.comm, 'python3');
  t.not(connect.tgid, accept.tgid, 'two processes: the client connected, the server accepted');
  t.equal(connect.localPort, accept.peerPort, 'the same connection from both ends');
  const close = (side: string) => recorder.events.find((e) => e.kind === 'close' && e.direction === side)!;
  // Sequence space: a SYN and a FIN count one byte each where the socket's state took them in (so + 0..2).
  const between = (v: number, low: number, high: number): boolean => v >= low && v <= high;
  t.ok(between(close('server').bytesReceived, 100_000, 100_001), `server: the 100000 bytes received (${close('server').bytesReceived})`);
  t.ok(between(close('client').bytesReceived, 6, 7), `client: "100000" received (${close('client').bytesReceived})`);
  t.ok(between(close('client').bytesAcked, 100_000, 100_002), `client: its bytes acknowledged (${close('client').bytesAcked})`);
  t.ok(between(close('server').bytesAcked, 6, 8), `server: its answer acknowledged (${close('server').bytesAcked})`);
  t.ok(close('client').durationNs >= 200_000_000, `the client's connection lived ${close('client').durationNs / 1e6} ms (it waited 200 ms before sending)`);
  t.equal(close('client').tgid, connect.tgid);
  t.equal(close('server').tgid, accept.tgid);
  t.same(await recorder.values({ metric: 'tcp_bytes_total', by: ['side', 'direction'] }), {
    'client tx': close('client').bytesAcked,
    'client rx': close('client').bytesReceived,
    'server tx': close('server').bytesAcked,
    'server rx': close('server').bytesReceived,
  }, 'tcp_bytes_total: the close records\' numbers');
  t.same(await recorder.values({ metric: 'network_connection_duration_seconds', by: ['side'] }), { client: 1, server: 1 }, 'one lifetime per side');
});

t.test('a connection reset before accept() took it: the accept and the close are still recorded', { skip }, async (t) => {
  const port = await freePort();
  const recorder = await TcpRecorder.start({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());
  const { exited, accept } = await server(t, port, 'wait');
  await run('python3', ['-c', CLIENT, String(port), '10', 'reset']);
  // The client's reset is in the records (and 200 ms more): anything the server side wrongly wrote then would be too.
  await recorder.waitFor('the client close', (events) => events.some((e) => e.kind === 'close' && e.direction === 'client'));
  t.same(recorder.events.filter((e) => e.direction === 'server').map((e) => e.kind), [], 'nothing for the server before its accept()');
  accept();
  await exited;
  await recorder.waitFor('the server close', (events) => events.some((e) => e.kind === 'close' && e.direction === 'server'));
  t.same(recorder.events.filter((e) => e.direction === 'server').map((e) => e.kind), ['accept', 'close']);
  t.same(await recorder.values({ metric: 'network_accepts_total', by: ['service'] }), { [`python3:${port}`]: 1 });
});
