import t from 'tap';
import { connectFailureReason, decodeExchanges, decodeTcpEvents, END_OF_BATCH, ExchangeCursor } from '../../src/capture/decoder';
import { ExchangeFlags, RECORD_EXCHANGE, RECORD_TCP } from '../../src/capture/abi';
import { batchOf, encodeExchange } from '../helpers/records';
import { encodeTcpEvent } from '../helpers/tcp-records';

t.test('decodes every field of a server exchange', async (t) => {
  const batch = batchOf(
    encodeExchange({
      pid: 4242,
      tgid: 4240,
      fd: 12,
      status: 404,
      cgroupId: 0xdeadbeefcafen,
      startNs: 5_000_000_000n,
      endNs: 5_050_123_456n,
      requestBytes: 77,
      responseBytes: 1234,
      localPort: 8080,
      peerPort: 51000,
      peerAddr: [10, 1, 2, 3],
      comm: 'nginx',
      head: 'GET /users/42?x=1 HTTP/1.1\r\nHost: api.local\r\n\r\n',
      headCapacity: 256,
    }),
  );
  const [e] = decodeExchanges(batch);
  t.same(e, {
    direction: 'server',
    ipVersion: 4,
    pid: 4242,
    tgid: 4240,
    fd: 12,
    comm: 'nginx',
    cgroupId: 0xdeadbeefcafen,
    startMonotimeNs: 5_000_000_000n,
    endMonotimeNs: 5_050_123_456n,
    durationNs: 50_123_456,
    localAddress: '127.0.0.1',
    localPort: 8080,
    peerAddress: '10.1.2.3',
    peerPort: 51000,
    status: 404,
    requestBytes: 77,
    responseBytes: 1234,
    method: 'GET',
    target: '/users/42?x=1',
    path: '/users/42',
    host: 'api.local',
    aborted: false,
    flags: [],
  });
});

t.test('client direction, IPv6 and flags', async (t) => {
  const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const [e] = decodeExchanges(
    encodeExchange({ direction: 'client', ipv6: true, peerAddr: v6, localAddr: [...Array(15).fill(0), 1], flags: ExchangeFlags.aborted | ExchangeFlags.closed, status: 0 }),
  );
  t.equal(e.direction, 'client');
  t.equal(e.ipVersion, 6);
  t.equal(e.peerAddress, '2001:db8::1');
  t.equal(e.localAddress, '::1');
  t.equal(e.aborted, true);
  t.same(e.flags, ['aborted', 'closed']);
});

t.test('durations are exact across a carry of the low 32 bits', async (t) => {
  const [e] = decodeExchanges(encodeExchange({ startNs: 0xffff_fff0n, endNs: 0x1_0000_0010n }));
  t.equal(e.durationNs, 0x20);
});

t.test('many records in one batch, read in place by the cursor', async (t) => {
  const records = Array.from({ length: 50 }, (_, i) => encodeExchange({ status: 200 + i, head: `GET /r${i} HTTP/1.1\r\n\r\n`, headCapacity: 256 }));
  const cursor = new ExchangeCursor(batchOf(...records));
  const statuses: number[] = [];
  while (cursor.next()) statuses.push(cursor.status);
  t.same(statuses, Array.from({ length: 50 }, (_, i) => 200 + i));
  t.same(cursor.problems, { truncatedBytes: 0, unknownRecords: 0 });
});

t.test('a truncated batch yields the whole records and reports the rest', async (t) => {
  const whole = batchOf(encodeExchange({ status: 201 }), encodeExchange({ status: 202 }));
  const cut = whole.subarray(0, whole.length - 10);
  const cursor = new ExchangeCursor(cut);
  const statuses: number[] = [];
  while (cursor.next()) statuses.push(cursor.status);
  t.same(statuses, [201]);
  t.equal(cursor.problems.truncatedBytes, whole.length / 2 - 10);
});

t.test('garbage bytes decode to nothing, without throwing', async (t) => {
  for (let seed = 1; seed <= 200; seed++) {
    const junk = Buffer.alloc(seed * 3);
    let x = seed;
    for (let i = 0; i < junk.length; i++) junk[i] = (x = (x * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    const cursor = new ExchangeCursor(junk);
    let n = 0;
    while (cursor.next()) {
      cursor.toExchange();
      n++;
    }
    t.ok(n <= junk.length / 120, `seed ${seed}: no more records than bytes allow`);
  }
});

t.test('unknown record types are skipped by their size', async (t) => {
  const unknown = Buffer.alloc(16);
  unknown.writeUInt16LE(99, 0);
  unknown.writeUInt16LE(16, 2);
  const cursor = new ExchangeCursor(batchOf(unknown, encodeExchange({ status: 204 })));
  t.equal(cursor.next(), true);
  t.equal(cursor.status, 204);
  t.equal(cursor.next(), false);
  t.equal(cursor.problems.unknownRecords, 1);
});

t.test('a head_len larger than the record is rejected', async (t) => {
  const rec = encodeExchange({ headCapacity: 8, head: 'GET / H' });
  rec.writeUInt16LE(500, 22);
  t.same(decodeExchanges(rec), []);
});

t.test('process names that differ in one low byte are told apart (interned by all 16 bytes)', async (t) => {
  const names = ['worker-process-1', 'worker-process-2', 'aorker-process-1', 'worker-process-1'].map((n) => n.slice(0, 15));
  const batch = Buffer.concat(names.map((comm) => encodeExchange({ comm })));
  t.same(decodeExchanges(batch).map((e) => e.comm), names);
});

t.test('the walk dispatches by record type: exchanges and TCP events interleaved', async (t) => {
  const batch = batchOf(
    encodeTcpEvent({ kind: 'connect', durationNs: 250_000n }),
    encodeExchange({ status: 200 }),
    encodeTcpEvent({ kind: 'retransmit', segments: 3 }),
    encodeExchange({ status: 503 }),
    encodeTcpEvent({ kind: 'close', srttUs: 50_123 }),
  );
  const cursor = new ExchangeCursor(batch);
  const seen: string[] = [];
  for (let type = cursor.nextRecord(); type !== END_OF_BATCH; type = cursor.nextRecord()) {
    if (type === RECORD_EXCHANGE) seen.push(`exchange ${cursor.status}`);
    else if (type === RECORD_TCP) seen.push(`tcp ${cursor.tcp.kind} ${cursor.tcp.durationNs} ${cursor.tcp.segments} ${cursor.tcp.srttUs}`);
  }
  t.same(seen, ['tcp 1 250000 0 0', 'exchange 200', 'tcp 5 0 3 0', 'exchange 503', 'tcp 4 0 0 50123']);
  t.same(cursor.problems, { truncatedBytes: 0, unknownRecords: 0 });
  t.same(decodeExchanges(batch).map((e) => e.status), [200, 503], 'next() (exchanges only) steps over TCP events, counting them as nothing unknown');
  t.same(decodeTcpEvents(batch).map((e) => e.kind), ['connect', 'retransmit', 'close']);
});

t.test('decodes every field of a TCP event', async (t) => {
  const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
  const [e] = decodeTcpEvents(
    encodeTcpEvent({
      kind: 'close',
      direction: 'server',
      ipv6: true,
      pid: 31,
      tgid: 30,
      comm: 'nginx',
      cgroupId: 0xabcdefn,
      monotimeNs: 7_000_000_123n,
      durationNs: 1_500_000_000n,
      bytesAcked: 2 ** 40 + 5,
      bytesReceived: 4321,
      srttUs: 50_000,
      segments: 17,
      localAddr: [...Array(15).fill(0), 1],
      peerAddr: v6,
      localPort: 443,
      peerPort: 50123,
    }),
  );
  t.same(e, {
    kind: 'close',
    direction: 'server',
    ipVersion: 6,
    pid: 31,
    tgid: 30,
    comm: 'nginx',
    cgroupId: 0xabcdefn,
    monotimeNs: 7_000_000_123n,
    durationNs: 1_500_000_000,
    bytesAcked: 2 ** 40 + 5,
    bytesReceived: 4321,
    srttUs: 50_000,
    segments: 17,
    error: 0,
    localAddress: '::1',
    localPort: 443,
    peerAddress: '2001:db8::7',
    peerPort: 50123,
  });
});

t.test('a TCP event shorter than its struct ends the walk; an unknown kind is skipped as unknown', async (t) => {
  const short = encodeTcpEvent({ kind: 'connect' });
  short.writeUInt16LE(64, 2);
  const cut = new ExchangeCursor(batchOf(short.subarray(0, 64), encodeExchange({ status: 200 })));
  t.equal(cut.nextRecord(), END_OF_BATCH);
  t.equal(cut.problems.truncatedBytes, 64 + 120 + 8 * Math.ceil('GET / HTTP/1.1\r\nHost: example\r\n\r\n'.length / 8));
  const strange = encodeTcpEvent({ kind: 'connect' });
  strange.writeUInt8(99, 4);
  const cursor = new ExchangeCursor(batchOf(strange, encodeTcpEvent({ kind: 'accept', direction: 'server' })));
  t.equal(cursor.nextRecord(), RECORD_TCP);
  t.equal(cursor.tcp.kind, 3);
  t.equal(cursor.nextRecord(), END_OF_BATCH);
  t.equal(cursor.problems.unknownRecords, 1);
});

t.test('connect failures are named by the socket error', async (t) => {
  t.same([111, 110, 113, 101, 104, 0, 22].map(connectFailureReason), ['refused', 'timeout', 'unreachable', 'unreachable', 'reset', 'aborted', 'error']);
  const [e] = decodeTcpEvents(encodeTcpEvent({ kind: 'connectFailed', error: 111, comm: 'curl' }));
  t.equal(e.kind, 'connectFailed');
  t.equal(e.error, 111);
  t.equal(e.comm, 'curl');
});
