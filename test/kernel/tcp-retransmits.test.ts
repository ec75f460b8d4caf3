/**
 * Retransmissions under loss: two network namespaces joined by a veth pair,
 * the server's namespace dropping 20 % of arriving TCP segments (iptables'
 * statistic match; this kernel has no netem; one segment per packet). A
 * client sends 256 KiB; the retransmitted segments in the records (each
 * retransmit record, and the close's remainder) must equal what the kernel
 * itself counts: each namespace's TcpRetransSegs (one connection in each),
 * which also counts a SYN-ACK retransmitted before the connection existed.
 */
import t from 'tap';
import { freePort, kernelSkipReason } from '../helpers/kernel';
import { dropIncomingTcp, vethPair } from '../helpers/netns';
import { TcpRecorder } from '../helpers/tcp-recorder';

const BYTES = 256 * 1024;

/** Reads until EOF, answers with the byte count, closes. */
const SINK = `
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen(); print('listening', flush=True)
c, _ = l.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.sendall(str(n).encode()); c.close()
`;

const SENDER = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
s.sendall(b'x' * int(sys.argv[3])); s.shutdown(socket.SHUT_WR)
print(s.recv(100).decode()); s.close()
`;

t.test('retransmitted segments under 20 % loss agree with the kernel\'s own counters', { skip: kernelSkipReason() }, async (t) => {
  const pair = await vethPair();
  t.teardown(() => pair.remove());
  await dropIncomingTcp(pair, pair.b, 0.2);
  const port = await freePort();
  const recorder = await TcpRecorder.start({ ports: { allow: [port] } });
  t.teardown(() => recorder.stop());

  const server = pair.spawn(pair.b, 'python3', ['-c', SINK, pair.addressB, String(port)]);
  await new Promise((resolve) => server.stdout!.once('data', resolve));
  const client = await pair.exec(pair.a, 'python3', ['-c', SENDER, pair.addressB, String(port), String(BYTES)], 120_000);
  t.equal(client.stdout.trim(), String(BYTES), `the server received all ${BYTES} bytes (${client.stderr.trim()})`);
  await recorder.waitFor('both closes', (events) => events.filter((e) => e.kind === 'close').length === 2, 30_000);

  const of = (side: string) => recorder.events.filter((e) => e.direction === side && (e.kind === 'retransmit' || e.kind === 'close'));
  const segments = (side: string) => of(side).reduce((n, e) => n + e.segments, 0);
  const [clientSegments, serverSegments] = [segments('client'), segments('server')];
  const [retransA, retransB] = await Promise.all([pair.counter(pair.a, 'TcpRetransSegs'), pair.counter(pair.b, 'TcpRetransSegs')]);
  const timely = of('client').filter((e) => e.kind === 'retransmit').reduce((n, e) => n + e.segments, 0);
  t.ok(clientSegments > 0, `the client retransmitted ${clientSegments} segments, ${timely} of them reported as they happened`);
  t.ok(timely > 0, 'retransmissions are reported as they happen, not only at the close');
  t.equal(clientSegments, retransA, `client: the records add up to TcpRetransSegs of its namespace (${retransA})`);
  t.equal(serverSegments, retransB, `server: the records add up to TcpRetransSegs of its namespace (${retransB})`);
  const serverClose = recorder.events.find((e) => e.kind === 'close' && e.direction === 'server')!;
  t.ok(serverClose.bytesReceived >= BYTES, `the server's close carries the bytes received (${serverClose.bytesReceived})`);

  const expected: Record<string, number> = { [`python3 client ${port} ${pair.addressB}`]: clientSegments };
  if (serverSegments > 0) expected[`python3:${port} server ${port} ${pair.addressA}`] = serverSegments;
  t.same(await recorder.values({ metric: 'tcp_retransmits_total', by: ['service', 'side', 'server_port', 'peer'] }), expected, 'tcp_retransmits_total per service and peer');
});
