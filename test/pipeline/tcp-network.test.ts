/**
 * TCP events through the engine (worker shards, the network processor, the
 * store): every family the network processor makes from them, per service
 * and peer, exact; exchanges in the same batch are untouched; the peer label
 * folds first under the series budget.
 */
import t from 'tap';
import type { HistogramSummary, Selector } from '../../src/analytics/store';
import { Engine } from '../../src/pipeline/engine';
import type { EngineOptions } from '../../src/pipeline/engine-options';
import { batchOf, encodeExchange } from '../helpers/records';
import { encodeTcpEvent, type TcpEventSpec } from '../helpers/tcp-records';

const NOW = 1_800_000_000_000;
const AT_NS = BigInt(NOW - 1000) * 1_000_000n;

async function engineWith(options: Partial<EngineOptions> = {}): Promise<Engine> {
  const engine = await Engine.start({ clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000, workerThreads: 2, ...options });
  t.teardown(() => engine.stop());
  return engine;
}

/** A client event of `curl` (tgid 50) towards 10.0.0.9:443, or a server event of `api` (tgid 60) on port 8080 from 10.0.0.7. */
const client = (spec: TcpEventSpec): Buffer => encodeTcpEvent({ comm: 'curl', tgid: 50, pid: 50, peerAddr: [10, 0, 0, 9], peerPort: 443, localPort: 50000, monotimeNs: AT_NS, ...spec });
const server = (spec: TcpEventSpec): Buffer =>
  encodeTcpEvent({ comm: 'api', tgid: 60, pid: 61, direction: 'server', localPort: 8080, peerAddr: [10, 0, 0, 7], peerPort: 51000, monotimeNs: AT_NS, ...spec });

function values(engine: Engine, selector: Selector): Record<string, number> {
  return Object.fromEntries(engine.store.window(selector, 60_000).map((r) => [(selector.by ?? []).map((l) => r.labels[l]).join(' '), r.summary.value]));
}

t.test('connects, failures, accepts, closes, retransmits and resets become the network families, per service and peer', async (t) => {
  const engine = await engineWith();
  const batch = batchOf(
    client({ kind: 'connect', durationNs: 2_000_000n }),
    client({ kind: 'connect', durationNs: 4_000_000n }),
    client({ kind: 'connectFailed', error: 111, peerAddr: [10, 0, 0, 8], peerPort: 5432 }),
    client({ kind: 'resetReceived', peerAddr: [10, 0, 0, 8], peerPort: 5432 }),
    client({ kind: 'connectFailed', error: 110 }),
    encodeExchange({ comm: 'api', localPort: 8080, head: 'GET /x HTTP/1.1\r\n\r\n', requestBytes: 20, responseBytes: 300, startNs: AT_NS - 1_000_000n, endNs: AT_NS }),
    client({ kind: 'retransmit', segments: 2 }),
    client({ kind: 'retransmit', segments: 1 }),
    client({ kind: 'close', durationNs: 3_000_000_000n, srttUs: 50_000, bytesAcked: 1000, bytesReceived: 9000, segments: 1 }),
    client({ kind: 'close', durationNs: 1_000_000_000n, srttUs: 0, bytesAcked: 10, bytesReceived: 20 }),
    server({ kind: 'accept', durationNs: 30_000n }),
    server({ kind: 'resetSent' }),
    server({ kind: 'close', durationNs: 500_000_000n, srttUs: 200, bytesAcked: 300, bytesReceived: 20 }),
  );
  t.equal(engine.ingest(batch, 13), true);
  await engine.sync();

  t.same(values(engine, { metric: 'network_connections_total', by: ['service', 'side', 'state', 'server_port', 'peer'] }), {
    'curl client established 443 10.0.0.9': 2,
    'curl client failed 5432 10.0.0.8': 1,
    'curl client failed 443 10.0.0.9': 1,
    'api:8080 server established 8080 10.0.0.7': 1,
  });
  t.same(values(engine, { metric: 'network_accepts_total', by: ['service'] }), { 'api:8080': 1 });
  t.same(values(engine, { metric: 'network_connect_failures_total', by: ['service', 'reason', 'server_port', 'peer'] }), {
    'curl refused 5432 10.0.0.8': 1,
    'curl timeout 443 10.0.0.9': 1,
  });
  t.same(values(engine, { metric: 'tcp_retransmits_total', by: ['service', 'side', 'peer'] }), { 'curl client 10.0.0.9': 4 }, 'segments, not records: 2 + 1 reported as they happened, 1 left for the close');
  t.same(values(engine, { metric: 'tcp_resets_total', by: ['service', 'side', 'direction', 'peer'] }), {
    'curl client received 10.0.0.8': 1,
    'api:8080 server sent 10.0.0.7': 1,
  });
  t.same(values(engine, { metric: 'tcp_bytes_total', by: ['service', 'direction'] }), { 'curl tx': 1010, 'curl rx': 9020, 'api:8080 tx': 300, 'api:8080 rx': 20 });
  t.same(values(engine, { metric: 'network_bytes_total', by: ['service', 'direction'] }), { 'api:8080 rx': 20, 'api:8080 tx': 300 }, 'exchange bytes as before');

  const histogram = (metric: string, match: Record<string, string>): HistogramSummary => engine.store.window({ metric, match, by: [] }, 60_000)[0].summary as HistogramSummary;
  const connect = histogram('network_connect_duration_seconds', { service: 'curl' });
  t.same([connect.count, connect.sum, connect.min, connect.max], [2, 0.006, 0.002, 0.004], 'handshakes of the completed connects');
  const rtt = histogram('tcp_rtt_seconds', { service: 'curl' });
  t.same([rtt.count, rtt.min, rtt.max], [1, 0.05, 0.05], 'a close without an srtt is no RTT observation');
  const serverRtt = histogram('tcp_rtt_seconds', { service: 'api:8080' });
  t.same([serverRtt.count, serverRtt.min], [1, 0.0002]);
  const lifetimes = histogram('network_connection_duration_seconds', { service: 'curl', side: 'client' });
  t.same([lifetimes.count, lifetimes.sum], [2, 4]);

  t.equal(engine.stats().eventsProcessed, 13, 'exchanges and TCP events');
  t.equal(engine.stats().unknownRecords, 0);
});

t.test('a server with many clients folds the peer first, and keeps every count', async (t) => {
  const engine = await engineWith({ workerThreads: 1, seriesLimits: { perService: 20, global: 1000 } });
  const accepts = Array.from({ length: 200 }, (_, i) => server({ kind: 'accept', peerAddr: [10, 1, i >> 8, i & 255] }));
  engine.ingest(batchOf(...accepts), accepts.length);
  await engine.sync();
  const rows = values(engine, { metric: 'network_connections_total', by: ['server_port', 'peer'] });
  t.equal(Object.values(rows).reduce((a, b) => a + b, 0), 200, 'every accept counted');
  t.ok(rows['8080 __overflow__'] > 0, `the peer folded, the port kept: ${JSON.stringify(rows).slice(0, 200)}`);
  t.same(values(engine, { metric: 'network_accepts_total', by: ['service'] }), { 'api:8080': 200 });
});

t.test('TCP families can be left out with enabled_metrics; the rest runs', async (t) => {
  const engine = await engineWith({ enabledMetrics: ['http_requests_total', 'tcp_retransmits_total'] });
  engine.ingest(batchOf(client({ kind: 'connect', durationNs: 1000n }), client({ kind: 'retransmit', segments: 4 })), 2);
  await engine.sync();
  t.same(values(engine, { metric: 'tcp_retransmits_total', by: ['service'] }), { curl: 4 });
  t.same(values(engine, { metric: 'network_connections_total', by: ['service'] }), {}, 'a disabled family gets no series');
  t.same(values(engine, { metric: 'network_connect_duration_seconds', by: ['service'] }), {});
});
