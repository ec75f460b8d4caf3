/**
 * BPF time of the TCP programs (bpf/tracer/tcp.h), from the kernel's own
 * run-time statistics (kernel.bpf_stats_enabled), in two phases:
 *
 *   connections  a Python client opens N short connections to a Python server
 *                on loopback (connect, one byte each way, close): per program
 *                ns per run, and BPF ns per connection (both sides) and per
 *                TCP event record
 *   loss         256 KiB x M sent between two network namespaces whose server
 *                side drops 20 % of arriving segments: tcp_retransmit's ns per run
 *
 *   npm run -s bench:build && node dist-bench/bench/tcp-cost.js [--connections 2000] [--transfers 4]
 *
 * Root and a built tree are required. The capture runs in this process (its
 * own pid is never traced), the traffic in child processes. bpf_stats adds
 * its own clock reads (~20-40 ns per run): the numbers are a slight
 * overestimate. The exchange framing pays nothing new per send or receive:
 * these programs run per connection state change, accept and reset, and per
 * retransmission.
 */
import { parseArgs } from 'node:util';
import { Capture } from '../src/capture/capture';
import { freePort, run } from '../test/helpers/kernel';
import { dropIncomingTcp, vethPair } from '../test/helpers/netns';
import { enableBpfStats, listPrograms } from './bpf-stats';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '2000' }, transfers: { type: 'string', default: '4' } } });


type Runs = Map<string, { ns: number; runs: number }>;

async function tcpPrograms(existing: Set<number>): Promise<Runs> {
  const out: Runs = new Map();
  for (const p of await listPrograms()) {
    if (!existing.has(p.id) && p.name.startsWith('tcp_')) out.set(p.name, { ns: p.run_time_ns ?? 0, runs: p.run_cnt ?? 0 });
  }
  return out;
}

function delta(before: Runs, after: Runs): Runs {
  const out: Runs = new Map();
  for (const [name, a] of after) {
    const b = before.get(name) ?? { ns: 0, runs: 0 };
    out.set(name, { ns: a.ns - b.ns, runs: a.runs - b.runs });
  }
  return out;
}

function report(title: string, runs: Runs): number {
  let total = 0;
  console.log(title);
  for (const [name, r] of [...runs].sort()) {
    total += r.ns;
    console.log(`  ${name.padEnd(20)} ${String(r.runs).padStart(8)} runs  ${r.runs ? (r.ns / r.runs).toFixed(0).padStart(6) : '     -'} ns/run`);
  }
  return total;
}

const SERVER = `
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', int(sys.argv[1]))); l.listen(128)
for _ in range(int(sys.argv[2])):
    c, _ = l.accept(); c.recv(1); c.sendall(b'y'); c.close()
`;
const CLIENT = `
import socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); s.sendall(b'x'); s.recv(1); s.close()
`;
const SINK = `
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen()
for _ in range(int(sys.argv[3])):
    c, _ = l.accept()
    while c.recv(65536): pass
    c.close()
`;
const SENDER = `
import socket, sys
for _ in range(int(sys.argv[3])):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60); s.sendall(b'x' * 262144); s.close()
`;

async function main(): Promise<void> {
  const connections = Number(values.connections);
  const transfers = Number(values.transfers);
  const restoreStats = enableBpfStats();
  const existing = new Set((await listPrograms()).map((p) => p.id));
  const port = await freePort();
  const capture = Capture.start({ ports: { allow: [port] } }, () => undefined);
  try {
    let before = await tcpPrograms(existing);
    let events = capture.stats().kernel.tcpEvents;
    const server = run('python3', ['-c', SERVER, String(port), String(connections)]);
    await new Promise((r) => setTimeout(r, 300));
    const client = await run('python3', ['-c', CLIENT, String(port), String(connections)]);
    if (client.code !== 0 || (await server).code !== 0) throw new Error(`the connection phase failed: ${client.stderr}`);
    await new Promise((r) => setTimeout(r, 300));
    const phase = delta(before, await tcpPrograms(existing));
    events = capture.stats().kernel.tcpEvents - events;
    const total = report(`connections: ${connections} on loopback, ${events} TCP event records`, phase);
    console.log(`  BPF time per connection (both sides): ${(total / connections).toFixed(0)} ns; per TCP event record: ${(total / events).toFixed(0)} ns`);

    const pair = await vethPair();
    try {
      await dropIncomingTcp(pair, pair.b, 0.2);
      before = await tcpPrograms(existing);
      const sink = pair.exec(pair.b, 'python3', ['-c', SINK, pair.addressB, String(port), String(transfers)], 300_000);
      await new Promise((r) => setTimeout(r, 300));
      const sender = await pair.exec(pair.a, 'python3', ['-c', SENDER, pair.addressB, String(port), String(transfers)], 300_000);
      if (sender.code !== 0 || (await sink).code !== 0) throw new Error(`the loss phase failed: ${sender.stderr}`);
      await new Promise((r) => setTimeout(r, 300));
      const retransmits = (await pair.counter(pair.a, 'TcpRetransSegs')) + (await pair.counter(pair.b, 'TcpRetransSegs'));
      report(`loss: ${transfers} x 256 KiB under 20 % loss, ${retransmits} segments retransmitted (TcpRetransSegs)`, delta(before, await tcpPrograms(existing)));
    } finally {
      await pair.remove();
    }
  } finally {
    await capture.stop();
    restoreStats();
  }
}

void main();
