/**
 * The one metric shape (src/exporters/naming.ts, collect.ts): what a rollup
 * carries — names, labels, cumulative values, start times — and that /metrics
 * serves exactly the same samples for the same store, plus only what is this
 * node's alone (percentile gauges, the agent's own health).
 */
import t, { type Test } from 'tap';
import { engineReaders } from '../../src/agent/readers';
import type { DeltaCell } from '../../src/analytics/cells';
import { Distribution } from '../../src/analytics/distribution';
import { DEFAULT_DURATION_BUCKETS_SECONDS, FAMILIES, seriesKey } from '../../src/analytics/families';
import { MetricStore } from '../../src/analytics/store';
import { ExchangeFlags as F } from '../../src/capture/abi';
import { collectRollup } from '../../src/exporters/collect';
import { otelErrorType } from '../../src/exporters/naming';
import { createExporter } from '../../src/exporters/prometheus';
import type { RollupSeries } from '../../src/exporters/rollup';
import { Engine } from '../../src/pipeline/engine';
import { NO_HTTP_IDENTITY } from '../helpers/identity-labels';
import { parseExposition, type Sample } from '../helpers/exposition';
import { batchOf, encodeExchange } from '../helpers/records';

const NOW = 1_800_000_000_000;
const at = (msBefore: number, durationUs: number) => ({ endNs: BigInt(NOW - msBefore) * 1_000_000n, startNs: BigInt(NOW - msBefore) * 1_000_000n - BigInt(durationUs * 1000) });

/** Every kind of exchange the naming distinguishes: both sides, 2xx/4xx/5xx, aborted with and without a status, reset, an unknown method, control characters. */
const TRAFFIC = [
  ...[40, 90, 300, 2_000, 70_000].map((us, i) => encodeExchange({ comm: 'nginx', localPort: 80, head: `GET /users/${i} HTTP/1.1\r\n\r\n`, responseBytes: 500, flags: i === 0 ? F.newConnection : 0, ...at(1000 + i, us) })),
  encodeExchange({ comm: 'nginx', localPort: 80, head: 'GET /missing HTTP/1.1\r\n\r\n', status: 404, ...at(1100, 30) }),
  encodeExchange({ comm: 'nginx', localPort: 80, head: 'POST /orders HTTP/1.1\r\n\r\n', status: 503, ...at(1200, 1500) }),
  encodeExchange({ comm: 'nginx', localPort: 80, head: 'POST /orders HTTP/1.1\r\n\r\n', status: 0, flags: F.aborted | F.closed | F.noResponseHead, ...at(1300, 5000) }),
  encodeExchange({ comm: 'nginx', localPort: 80, head: 'POST /orders HTTP/1.1\r\n\r\n', status: 200, flags: F.aborted | F.reset, ...at(1400, 800) }),
  encodeExchange({ comm: 'nginx', localPort: 80, head: 'BREW /pot HTTP/1.1\r\n\r\n', status: 418, ...at(1500, 20) }),
  encodeExchange({ comm: 'ev\x1bil"\\', localPort: 81, head: 'GET /a\x07b HTTP/1.1\r\n\r\n', ...at(1600, 25) }),
  ...[200, 404, 502].map((status, i) => encodeExchange({ direction: 'client', comm: 'curl', localPort: 50000 + i, peerPort: 80, head: 'GET /users/7 HTTP/1.1\r\n\r\n', status, ...at(900 + i, 150) })),
  encodeExchange({ direction: 'client', comm: 'curl', localPort: 50010, peerPort: 80, head: 'GET /slow HTTP/1.1\r\n\r\n', status: 0, flags: F.aborted | F.timeout | F.noResponseHead, ...at(800, 2_000_000) }),
];

async function engineWith(t: Test, options: { durationBucketsSeconds?: number[] } = {}): Promise<Engine> {
  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, now: () => NOW, publishIntervalMs: 60_000, ...options });
  t.teardown(() => engine.stop());
  engine.ingest(batchOf(...TRAFFIC), TRAFFIC.length);
  await engine.sync();
  return engine;
}

/** A rollup series as the samples Prometheus would scrape for it. */
function samplesOf(s: RollupSeries): Sample[] {
  if (!s.histogram) return [{ name: s.name, labels: s.labels, value: s.value! }];
  const h = s.histogram;
  return [
    ...h.bounds.map((b, i) => ({ name: `${s.name}_bucket`, labels: { ...s.labels, le: String(b) }, value: h.cumulative[i] })),
    { name: `${s.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: h.count },
    { name: `${s.name}_sum`, labels: s.labels, value: h.sum },
    { name: `${s.name}_count`, labels: s.labels, value: h.count },
  ];
}

const key = (s: Sample): string => `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)))} ${s.value}`;

t.test('the error type as OpenTelemetry names it', async (t) => {
  t.equal(otelErrorType('', '200'), undefined, 'a success: none');
  t.equal(otelErrorType('5xx', '503'), '503', 'an HTTP error: its status code');
  t.equal(otelErrorType('4xx', '404'), '404');
  t.equal(otelErrorType('5xx', '5xx'), '5xx', 'a status code folded to its class: the class');
  t.equal(otelErrorType('reset', '0'), 'connection_reset');
  t.equal(otelErrorType('aborted', '0'), 'aborted');
  t.equal(otelErrorType('aborted', '200'), 'aborted', 'cut off after its status line');
});

t.test('the rollup: OpenTelemetry histograms by side, the seed families, no percentiles, no health; labels per naming.ts', async (t) => {
  const engine = await engineWith(t);
  const rollup = collectRollup(engine.store, NOW);
  t.equal(rollup.timestampMs, NOW);
  const names = [...new Set(rollup.series.map((s) => s.name))];
  t.same(names, [
    'http_requests_total',
    'http_responses_total',
    'http_response_size_bytes',
    'network_bytes_total',
    'network_errors_total',
    'process_events_total',
    'http_errors_total',
    'http_server_request_duration_seconds',
    'http_client_request_duration_seconds',
  ]);
  for (const s of rollup.series) {
    t.ok(Object.values(s.labels).every((v) => v !== ''), `${s.name}: no empty label value`);
    t.notOk('pid' in s.labels, `${s.name}: no pid`);
    t.not(s.labels.status_code, '0');
    t.ok(Object.isFrozen(s.labels), 'labels are shared: frozen');
    t.equal(s.startMs, NOW - 10_000, `${s.name}: counts since the bucket of its first exchange`);
  }
  const otel = (side: string, match: Record<string, string>) =>
    rollup.series.filter((s) => s.name === `http_${side}_request_duration_seconds` && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  t.strictSame(otel('server', { http_route: '/orders', http_response_status_code: '503' })[0].labels, {
    service_name: 'nginx:80',
    server_port: '80',
    http_request_method: 'POST',
    http_route: '/orders',
    http_response_status_code: '503',
    error_type: '503',
    url_scheme: 'http',
  });
  t.strictSame(otel('server', { http_route: '/orders', error_type: 'aborted' })[0].labels, {
    service_name: 'nginx:80',
    server_port: '80',
    http_request_method: 'POST',
    http_route: '/orders',
    error_type: 'aborted',
    url_scheme: 'http',
  }, 'no status line: no status code, the error type says what ended it');
  t.same(otel('server', { error_type: 'connection_reset' })[0].labels.http_response_status_code, '200', 'reset after a 200: the status kept, the error is the reset');
  t.same(otel('server', { http_route: '/missing' })[0].labels.error_type, undefined, "a server's 404 is no error");
  t.same(otel('server', { http_route: '/pot' })[0].labels.http_request_method, '_OTHER');
  t.same(otel('client', { http_response_status_code: '404' })[0].labels.error_type, '404', "a client's 404 is one");
  t.same(otel('client', { http_route: '/slow' })[0].labels, { service_name: 'curl', server_port: '80', http_request_method: 'GET', http_route: '/slow', error_type: 'aborted', url_scheme: 'http' });
  t.same(otel('server', { service_name: 'ev\\x1bil"\\\\:81' })[0].labels.http_route, '/a\\x07b', 'captured text escaped once, as on every surface');

  const users = otel('server', { http_route: '/users/{id}', http_response_status_code: '200' })[0].histogram!;
  t.same(users.bounds, DEFAULT_DURATION_BUCKETS_SECONDS);
  t.same(users.count, 5);
  t.same(
    Object.fromEntries(users.bounds.map((b, i) => [b, users.cumulative[i]]).filter(([b]) => [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.0025, 0.05, 0.1].includes(b))),
    { 0.00001: 0, 0.00005: 1, 0.0001: 2, 0.00025: 2, 0.0005: 3, 0.0025: 4, 0.05: 4, 0.1: 5 },
    '40 µs, 90 µs, 300 µs, 2 ms, 70 ms: resolved below 5 ms',
  );
  t.ok(Math.abs(users.sum - 0.07243) < 1e-9, `sum ${users.sum}`);

  const byName = (name: string) => rollup.series.filter((s) => s.name === name).map((s) => [s.labels, s.value]);
  t.same(byName('http_errors_total').length, 6, 'the server\'s 503, aborted and reset; the client\'s 404, 502 and timeout');
  t.same(
    rollup.series.filter((s) => s.name === 'http_errors_total' && s.labels.service === 'nginx:80').map((s) => s.labels),
    [
      { service: 'nginx:80', side: 'server', server_port: '80', path: '/orders', status_code: '503', error_type: '5xx' },
      { service: 'nginx:80', side: 'server', server_port: '80', path: '/orders', error_type: 'aborted' },
      { service: 'nginx:80', side: 'server', server_port: '80', path: '/orders', status_code: '200', error_type: 'reset' },
    ],
    'the seed alias keeps the store\'s error types (what REST and alert rules match)',
  );
  t.same(byName('process_events_total'), [[{ process_name: 'nginx', cgroup_id: '1' }, 10], [{ process_name: 'ev\\x1bil"\\\\', cgroup_id: '1' }, 1], [{ process_name: 'curl', cgroup_id: '1' }, 4]]);
  t.same(
    rollup.series.filter((s) => s.name === 'http_responses_total' && s.labels.status_class === 'none').map((s) => s.labels),
    [
      { service: 'nginx:80', side: 'server', server_port: '80', status_class: 'none' },
      { service: 'curl', side: 'client', server_port: '80', status_class: 'none' },
    ],
  );

  t.same(
    [...new Set(collectRollup(engine.store, NOW, { include: (name) => name.startsWith('network_') }).series.map((s) => s.name))],
    // Connections and accepts come from TCP events, which this store has none of.
    ['network_bytes_total', 'network_errors_total'],
    'include: by exported name',
  );
});

t.test('/metrics and the rollup of the same store: the same samples; /metrics adds only what is this node\'s', async (t) => {
  const engine = await engineWith(t);
  const text = await createExporter(engineReaders(engine)).scrape();
  const rollup = collectRollup(engine.store, NOW);
  const exported = new Set(rollup.series.map((s) => s.name));
  const scraped = parseExposition(text);
  const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
  const fromStore = scraped.filter((s) => exported.has(s.name) || exported.has(base(s.name)));
  const fromRollup = rollup.series.flatMap(samplesOf);
  t.ok(fromRollup.length > 300, `${fromRollup.length} samples`);
  t.same(fromStore.map(key).sort(), fromRollup.map(key).sort(), 'every sample of the rollup on /metrics, and no other of those names');
  const rest = new Set(scraped.filter((s) => !fromStore.includes(s)).map((s) => base(s.name)));
  const unexpected = [...rest].filter((n) => !/^(http_request_duration_seconds_p(50|95|99)|http_tracer_\w+|process_(?!events_total)\w+|nodejs_\w+)$/.test(n));
  t.same(unexpected, [], 'beside them: the percentile gauges and the agent\'s own metrics only');
  t.ok(rest.has('http_request_duration_seconds_p99') && rest.has('http_tracer_build_info') && rest.has('process_cpu_seconds_total') && rest.has('nodejs_heap_size_used_bytes'));
});

t.test('configured buckets reach the shards, the store, /metrics and the rollup', async (t) => {
  const engine = await engineWith(t, { durationBucketsSeconds: [0.0001, 0.001, 1] });
  const histogram = collectRollup(engine.store, NOW).series.find((s) => s.name === 'http_server_request_duration_seconds' && s.labels.http_route === '/users/{id}')!.histogram!;
  t.same([histogram.bounds, histogram.cumulative, histogram.count], [[0.0001, 0.001, 1], [2, 3, 5], 5]);
  const text = await createExporter(engineReaders(engine), { processMetrics: false }).scrape();
  t.same(
    text.split('\n').filter((l) => l.startsWith('http_server_request_duration_seconds_bucket{') && l.includes('http_route="/users/{id}"')).map((l) => l.replace(/,service_name.*\}/, '}')),
    ['http_server_request_duration_seconds_bucket{le="0.0001"} 2', 'http_server_request_duration_seconds_bucket{le="0.001"} 3', 'http_server_request_duration_seconds_bucket{le="1"} 5', 'http_server_request_duration_seconds_bucket{le="+Inf"} 5'],
  );
  t.notMatch(text, /^(process|nodejs)_(?!events_total)/m, 'processMetrics: false leaves prom-client\'s defaults out');
});

t.test('startMs: when the store first saw the series; fixed while it lives, new when it comes back', async (t) => {
  let now = NOW;
  const store = new MetricStore({ families: FAMILIES, retentionMs: 3_600_000, limits: { perService: 100, global: 1000 }, now: () => now });
  const labels = ['api:80', 'server', '80', 'GET', '/a', ...NO_HTTP_IDENTITY];
  const cell = (bucketMs: number, value: number): DeltaCell => ({ family: 'http_requests_total', labels, key: seriesKey(labels), bucketMs, value });
  store.ingest([cell(NOW - 20_000, 2)]);
  store.ingest([cell(NOW - 10_000, 3), cell(NOW - 30_000, 1)]);
  const first = collectRollup(store, NOW).series;
  t.same(first.map((s) => [s.value, s.startMs]), [[6, NOW - 20_000]], 'a straggler from an older bucket adds to the total, the start stays');
  now = NOW + 2 * 3_600_000;
  store.expire();
  t.same(collectRollup(store, now).series, [], 'idle past the retention: forgotten');
  store.ingest([cell(now - 10_000, 4)]);
  t.same(collectRollup(store, now).series.map((s) => [s.value, s.startMs]), [[4, now - 10_000]], 'back: a new series, counting from 0 since its new start (a counter reset downstream)');

  const d = new Distribution();
  d.record(0.5);
  const dl = ['api:80', 'client', '80', 'GET', '/a', '200', '', ...NO_HTTP_IDENTITY];
  store.ingest([{ family: 'http_request_duration_seconds', labels: dl, key: seriesKey(dl), bucketMs: now - 10_000, value: 1, dist: d.toData(), bounds: [...new Array(14).fill(0), 1, 0, 0, 0, 0, 0] }]);
  const h = collectRollup(store, now).series.find((s) => s.name === 'http_client_request_duration_seconds')!;
  t.same([h.histogram!.cumulative.slice(13), h.histogram!.count, h.histogram!.sum, h.startMs], [[0, 1, 1, 1, 1, 1], 1, 0.5, now - 10_000], 'cumulative from the store\'s per-bucket counts');
});

t.test('cost: O(series), measured at 10 000 series', async (t) => {
  const store = new MetricStore({ families: FAMILIES, retentionMs: 3_600_000, limits: { perService: 1e6, global: 1e6 }, now: () => NOW });
  const cells: DeltaCell[] = [];
  const d = new Distribution();
  for (let k = 0; k < 10; k++) d.record(0.0001 * (k + 1));
  const data = d.toData();
  for (let i = 0; i < 10_000; i++) {
    const service = `svc${i % 20}:80`;
    if (i % 4 === 3) {
      const labels = [service, 'server', '80', 'GET', `/route/${i}`, '200', '', ...NO_HTTP_IDENTITY];
      cells.push({ family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs: NOW - 10_000, value: 10, dist: data, bounds: [0, 0, 0, 2, 8, ...new Array(15).fill(0)] });
    } else {
      const labels = [service, 'server', '80', 'GET', `/route/${i}`, ...NO_HTTP_IDENTITY];
      cells.push({ family: 'http_requests_total', labels, key: seriesKey(labels), bucketMs: NOW - 10_000, value: 10 });
    }
  }
  store.ingest(cells);
  t.equal(collectRollup(store, NOW).series.length, 10_000, 'first call: labels made and kept');
  // The median of 21 calls: a call the machine preempted or a GC paused does not count (about 1.2 ms idle).
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const start = process.hrtime.bigint();
    collectRollup(store, NOW);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const ms = times.sort((a, b) => a - b)[10];
  t.comment(`collectRollup, 10 000 series (2 500 histograms): ${ms.toFixed(2)} ms per call (median)`);
  t.ok(ms < 50, `${ms.toFixed(2)} ms per call (median of 21)`);
});
