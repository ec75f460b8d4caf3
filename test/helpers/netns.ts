/**
 * Two network namespaces joined by a link the test controls, for kernel
 * tests of TCP behaviour (loss, delay) with traffic that never leaves them:
 *
 *   vethPair():  nsA [veth 10.x.0.1/24] ==== [veth 10.x.0.2/24] nsB, one segment per packet;
 *                loss with iptables' statistic match (this kernel has no netem)
 *   delayedPair(): nsA [tun 10.x.0.1] -- forwarder (this machine's root
 *                namespace, a Python process) -- [tun 10.x.0.2] nsB,
 *                each packet held `delayMs` each way: a fixed added RTT
 *                without netem (tbf cannot delay by a fixed time)
 *
 * Names carry this process's pid, so parallel test files never collide;
 * remove() deletes the namespaces (and with them their links) and stops the
 * forwarder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { run, type RunResult } from './kernel';

export interface NamespacePair {
  /** Namespace names: the client's and the server's. */
  a: string;
  b: string;
  /** The addresses of a's and b's end of the link. */
  addressA: string;
  addressB: string;
  /** Runs a command inside a namespace. */
  exec(ns: string, cmd: string, args: string[], timeoutMs?: number): Promise<RunResult>;
  /** Starts a long-running command inside a namespace. */
  spawn(ns: string, cmd: string, args: string[]): ChildProcess;
  /** A counter of the namespace's TCP MIB (nstat's name, e.g. TcpRetransSegs, TcpExtTCPSynRetrans); 0 when nstat lists none. */
  counter(ns: string, name: string): Promise<number>;
  remove(): Promise<void>;
}

let pairs = 0;

async function must(cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args, 10_000);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
}

function pairNames(tag: string): { a: string; b: string; subnet: number } {
  const n = pairs++;
  // 10.<200..249>.<0..255>: one /24 per pair, spread by pid so parallel files differ.
  return { a: `ht${tag}a${process.pid}n${n}`, b: `ht${tag}b${process.pid}n${n}`, subnet: (process.pid * 8 + n) % (50 * 256) };
}

function pairOf(a: string, b: string, subnet: number, cleanup: () => Promise<void>): NamespacePair {
  const prefix = `10.${200 + Math.floor(subnet / 256)}.${subnet % 256}`;
  return {
    a,
    b,
    addressA: `${prefix}.1`,
    addressB: `${prefix}.2`,
    exec: (ns, cmd, args, timeoutMs = 60_000) => run('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs),
    spawn(ns, cmd, args) {
      return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    },
    async counter(ns, name) {
      const r = await run('ip', ['netns', 'exec', ns, 'nstat', '-asz', '--json', name]);
      if (r.code !== 0) throw new Error(`nstat in ${ns} failed: ${r.stderr}`);
      const parsed = JSON.parse(r.stdout) as Record<string, Record<string, number>>;
      return Object.values(parsed)[0]?.[name] ?? 0;
    },
    async remove() {
      await cleanup();
      await run('ip', ['netns', 'del', a]);
      await run('ip', ['netns', 'del', b]);
    },
  };
}

async function namespaces(a: string, b: string): Promise<void> {
  await must('ip', ['netns', 'add', a]);
  await must('ip', ['netns', 'add', b]);
  for (const ns of [a, b]) await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}

/** nsA and nsB joined by a veth pair. */
export async function vethPair(): Promise<NamespacePair> {
  const { a, b, subnet } = pairNames('v');
  const pair = pairOf(a, b, subnet, async () => undefined);
  await namespaces(a, b);
  await must('ip', ['link', 'add', 'eth0', 'netns', a, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
  await must('ip', ['-n', a, 'addr', 'add', `${pair.addressA}/24`, 'dev', 'eth0']);
  await must('ip', ['-n', b, 'addr', 'add', `${pair.addressB}/24`, 'dev', 'eth0']);
  // One segment per packet (no GSO super-packets): a loss rule then drops segments, as a real link would.
  for (const ns of [a, b]) await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'gso_max_segs', '1', 'up']);
  return pair;
}

/** Drops a share of the TCP segments arriving in `ns` (iptables statistic match, random mode). */
export async function dropIncomingTcp(pair: NamespacePair, ns: string, probability: number): Promise<void> {
  const r = await pair.exec(ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP']);
  if (r.code !== 0) throw new Error(`iptables in ${ns} failed: ${r.stderr}`);
}

/**
 * The forwarder: attaches to both TUN devices by name (in the root
 * namespace, before they move), then copies each packet to the other device
 * `delay` ms after it arrived.
 */
const FORWARDER = `
import fcntl, heapq, os, select, struct, sys, time
def attach(name):
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', name.encode(), 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN | IFF_NO_PI
    return fd
a, b = attach(sys.argv[1]), attach(sys.argv[2])
delay = float(sys.argv[3]) / 1000
peer = {a: b, b: a}
queue, seq = [], 0
print('ready', flush=True)
while True:
    timeout = max(0, queue[0][0] - time.monotonic()) if queue else None
    ready, _, _ = select.select([a, b], [], [], timeout)
    now = time.monotonic()
    for fd in ready:
        heapq.heappush(queue, (now + delay, seq, peer[fd], os.read(fd, 65536)))
        seq += 1
    while queue and queue[0][0] <= time.monotonic():
        _, _, out, packet = heapq.heappop(queue)
        os.write(out, packet)
`;

/** nsA and nsB joined by TUN devices and a forwarder that delays every packet delayMs each way. */
export async function delayedPair(delayMs: number): Promise<NamespacePair> {
  const { a, b, subnet } = pairNames('d');
  const [tunA, tunB] = [`htd${process.pid % 100000}a${pairs}`, `htd${process.pid % 100000}b${pairs}`];
  let forwarder: ChildProcess | undefined;
  const pair = pairOf(a, b, subnet, async () => {
    if (forwarder && forwarder.exitCode === null && forwarder.signalCode === null) {
      const exited = new Promise((r) => forwarder!.once('exit', r));
      forwarder.kill('SIGTERM');
      await exited;
    }
  });
  await namespaces(a, b);
  await must('ip', ['tuntap', 'add', 'dev', tunA, 'mode', 'tun']);
  await must('ip', ['tuntap', 'add', 'dev', tunB, 'mode', 'tun']);
  forwarder = spawn('python3', ['-c', FORWARDER, tunA, tunB, String(delayMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', () => forwarder?.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    forwarder!.stderr!.on('data', (d) => (err += d));
    forwarder!.stdout!.once('data', () => resolve());
    forwarder!.once('exit', (code) => reject(new Error(`the TUN forwarder exited (${code}): ${err}`)));
  });
  // The forwarder's file descriptors stay attached as the devices move into the namespaces.
  await must('ip', ['link', 'set', tunA, 'netns', a]);
  await must('ip', ['link', 'set', tunB, 'netns', b]);
  await must('ip', ['-n', a, 'addr', 'add', pair.addressA, 'peer', pair.addressB, 'dev', tunA]);
  await must('ip', ['-n', b, 'addr', 'add', pair.addressB, 'peer', pair.addressA, 'dev', tunB]);
  await must('ip', ['-n', a, 'link', 'set', tunA, 'up']);
  await must('ip', ['-n', b, 'link', 'set', tunB, 'up']);
  return pair;
}
