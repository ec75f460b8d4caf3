/**
 * TCP identities and groups: one identity per process, side, service port
 * and peer (named like exchanges' services), the peer by its name where the
 * node knows it; groups gather a batch's events per identity and bucket.
 */
import t from 'tap';
import { END_OF_BATCH, ExchangeCursor } from '../../src/capture/decoder';
import { CgroupPaths } from '../../src/metadata/cgroup-paths';
import { WorkloadResolver } from '../../src/metadata/workload-resolver';
import { TcpEnricher, TcpGroups, type TcpIdentity } from '../../src/pipeline/tcp-event';
import { encodeTcpEvent, type TcpEventSpec } from '../helpers/tcp-records';

function identities(enricher: TcpEnricher, specs: TcpEventSpec[]): TcpIdentity[] {
  const cursor = new ExchangeCursor(Buffer.concat(specs.map(encodeTcpEvent)));
  const out: TcpIdentity[] = [];
  while (cursor.nextRecord() !== END_OF_BATCH) out.push(enricher.identityOf(cursor.tcp));
  return out;
}

t.test('identity: service named as for exchanges, side, service port, peer', async (t) => {
  const ids = identities(new TcpEnricher({ maxIdentities: 100 }), [
    { kind: 'accept', direction: 'server', comm: 'nginx', localPort: 80, peerPort: 50001, peerAddr: [10, 0, 0, 5] },
    { kind: 'close', direction: 'server', comm: 'nginx', localPort: 80, peerPort: 50002, peerAddr: [10, 0, 0, 5] },
    { kind: 'connect', comm: 'curl', tgid: 7, localPort: 40000, peerPort: 443, peerAddr: [192, 168, 1, 9] },
    { kind: 'connect', comm: 'curl', tgid: 7, ipv6: true, peerPort: 443, peerAddr: [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 2] },
    { kind: 'connect', comm: 'curl', tgid: 7, ipv6: true, peerPort: 443, peerAddr: [...Array(10).fill(0), 0xff, 0xff, 192, 168, 1, 9] },
  ]);
  t.same(
    ids.map((id) => [id.service, id.side, id.serverPort, id.peer]),
    [
      ['nginx:80', 'server', '80', '10.0.0.5'],
      ['nginx:80', 'server', '80', '10.0.0.5'],
      ['curl', 'client', '443', '192.168.1.9'],
      ['curl', 'client', '443', '2001:db8::2'],
      ['curl', 'client', '443', '192.168.1.9'],
    ],
  );
  t.equal(ids[0], ids[1], 'the client port is no part of it: one identity');
  t.equal(ids[2], ids[4], 'an IPv4-mapped peer is the IPv4 peer');
});

t.test('a pid reused by another process (another name, another cgroup) is another identity', async (t) => {
  const ids = identities(new TcpEnricher({ maxIdentities: 100 }), [
    { kind: 'connect', comm: 'worker', tgid: 9, cgroupId: 1n },
    { kind: 'connect', comm: 'worker', tgid: 9, cgroupId: 2n },
    { kind: 'connect', comm: 'other', tgid: 9, cgroupId: 2n },
  ]);
  t.not(ids[0], ids[1]);
  t.not(ids[1], ids[2]);
  t.same(ids.map((id) => id.processName), ['worker', 'worker', 'other']);
});

t.test('the peer by its name where the node knows it', async (t) => {
  const workloads = new WorkloadResolver(new CgroupPaths({ mount: null }));
  workloads.setCluster({ pods: [], services: [{ namespace: 'shop', name: 'db', clusterIps: ['10.96.0.10'] }] });
  const ids = identities(new TcpEnricher({ maxIdentities: 100, workloads }), [
    { kind: 'connectFailed', error: 111, peerAddr: [10, 96, 0, 10], peerPort: 5432 },
    { kind: 'connectFailed', error: 111, peerAddr: [10, 96, 0, 11], peerPort: 5432 },
  ]);
  t.same(ids.map((id) => id.peer), ['db.shop', '10.96.0.11']);
});

t.test('past maxIdentities the identities are made anew, not kept without bound', async (t) => {
  const enricher = new TcpEnricher({ maxIdentities: 3 });
  const specs: TcpEventSpec[] = Array.from({ length: 5 }, (_, i) => ({ kind: 'connect', peerAddr: [10, 0, 0, i] }));
  const first = identities(enricher, specs);
  const again = identities(enricher, specs);
  t.same(again.map((id) => id.peer), first.map((id) => id.peer), 'the same labels');
  t.not(again[0], first[0], 'the tree was rebuilt');
});

t.test('groups: per identity and bucket, every kind of event in its place', async (t) => {
  const enricher = new TcpEnricher({ maxIdentities: 100 });
  const groups = new TcpGroups();
  const specs: TcpEventSpec[] = [
    { kind: 'connect', durationNs: 1_000_000n, monotimeNs: 1_000_000_000n },
    { kind: 'connect', durationNs: 3_000_000n, monotimeNs: 2_000_000_000n },
    { kind: 'connectFailed', error: 110, monotimeNs: 2_000_000_000n },
    { kind: 'connectFailed', error: 113, monotimeNs: 2_000_000_000n },
    { kind: 'retransmit', segments: 4, monotimeNs: 3_000_000_000n },
    { kind: 'resetReceived', monotimeNs: 3_000_000_000n },
    { kind: 'close', durationNs: 2_000_000_000n, srttUs: 1500, bytesAcked: 10, bytesReceived: 20, segments: 2, monotimeNs: 4_000_000_000n },
    { kind: 'close', durationNs: 5_000_000_000n, srttUs: 0, bytesAcked: 1, bytesReceived: 2, monotimeNs: 4_000_000_000n },
    { kind: 'connect', durationNs: 7_000_000n, monotimeNs: 12_000_000_000n },
    { kind: 'accept', direction: 'server', monotimeNs: 12_000_000_000n },
    { kind: 'resetSent', direction: 'server', monotimeNs: 12_000_000_000n },
  ];
  for (let round = 0; round < 2; round++) {
    groups.begin();
    const cursor = new ExchangeCursor(Buffer.concat(specs.map(encodeTcpEvent)));
    while (cursor.nextRecord() !== END_OF_BATCH) {
      const ms = cursor.tcp.monotimeMs;
      groups.add(enricher.identityOf(cursor.tcp), ms - (ms % 10_000), cursor.tcp);
    }
    t.same(
      groups.groups.slice(0, groups.count).map((g) => ({
        side: g.identity.side,
        bucketMs: g.bucketMs,
        count: g.count,
        established: g.established,
        failures: [...g.failures],
        retransmits: g.retransmits,
        resets: [g.resetsSent, g.resetsReceived],
        bytes: [g.bytesSent, g.bytesReceived],
        connectSeconds: [...g.connectSeconds.subarray(0, g.connects)],
        lifetimeSeconds: [...g.lifetimeSeconds.subarray(0, g.closes)],
        rttSeconds: [...g.rttSeconds.subarray(0, g.rtts)],
      })),
      [
        { side: 'client', bucketMs: 0, count: 8, established: 2, failures: [0, 1, 1, 0, 0, 0], retransmits: 6, resets: [0, 1], bytes: [11, 22], connectSeconds: [0.001, 0.003], lifetimeSeconds: [2, 5], rttSeconds: [0.0015] },
        { side: 'client', bucketMs: 10_000, count: 1, established: 1, failures: [0, 0, 0, 0, 0, 0], retransmits: 0, resets: [0, 0], bytes: [0, 0], connectSeconds: [0.007], lifetimeSeconds: [], rttSeconds: [] },
        { side: 'server', bucketMs: 10_000, count: 2, established: 1, failures: [0, 0, 0, 0, 0, 0], retransmits: 0, resets: [1, 0], bytes: [0, 0], connectSeconds: [], lifetimeSeconds: [], rttSeconds: [] },
      ],
      `round ${round}: pooled groups start empty`,
    );
  }
});
