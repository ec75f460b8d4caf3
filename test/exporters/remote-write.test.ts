/**
 * Remote-write 1.0: the schema against upstream's field numbers (down to the
 * bytes), a rollup encoded and read back exactly (labels sorted, __name__,
 * external labels under the series' own, le as /metrics writes it, one
 * timestamp), bodies split by samples and by bytes, the protocol's headers;
 * then the real Prometheus (Debian's) taking two flushes through its
 * remote-write receiver: its query API returns those values, and increase()
 * over them is right. Last, what Prometheus answers to what a queue replayed
 * after a restart may send (the same body again, an older one, a changed one).
 */
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import t from 'tap';
import snappy from 'snappyjs';
import { decodeWriteRequest, encodeWriteRequest, encodeWriteRequests, formatLe, type DecodedWriteRequest } from '../../src/exporters/remote-write/encode';
import { MetricMetadata, Sample, TimeSeries, WriteRequest } from '../../src/exporters/remote-write/prompb';
import { REMOTE_WRITE_HEADERS, sendWriteRequest, type RemoteWriteTarget } from '../../src/exporters/remote-write/target';
import type { Rollup, RollupSeries } from '../../src/exporters/rollup';
import { packageRoot } from '../../src/package-root';
import { prometheusSkipReason, startPrometheus } from '../helpers/prometheus';

const NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z
/** The duration buckets /metrics uses (OpenTelemetry's defaults, in seconds). */
const DURATION_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const counter = (name: string, labels: Record<string, string>, value: number): RollupSeries => ({ name, help: `${name} help`, type: 'counter', labels, value, startMs: NOW - 60_000 });
const histogram = (name: string, labels: Record<string, string>, bounds: readonly number[], cumulative: number[], count: number, sum: number): RollupSeries => ({
  name,
  help: `${name} help`,
  type: 'histogram',
  labels,
  histogram: { bounds: [...bounds], cumulative, count, sum },
  startMs: NOW - 60_000,
});

/** One line per series: labels in wire order, then value@timestamp. */
const lines = (d: DecodedWriteRequest): string[] => d.timeseries.map((ts) => `${ts.labels.map((l) => `${l.name}=${l.value}`).join(',')} ${ts.samples.map((s) => `${s.value}@${s.timestamp}`).join(' ')}`);

t.test('the schema has upstream prompb field numbers, down to the bytes', async (t) => {
  const ids = (type: typeof WriteRequest) => Object.fromEntries(Object.values(type.fields).map((f) => [f.name, `${f.id}:${f.type}${f.repeated ? '[]' : ''}`]));
  t.strictSame(ids(WriteRequest), { timeseries: '1:TimeSeries[]', metadata: '3:MetricMetadata[]' });
  t.strictSame(ids(TimeSeries), { labels: '1:Label[]', samples: '2:Sample[]' });
  t.strictSame(ids(Sample), { value: '1:double', timestamp: '2:int64' });
  t.strictSame(ids(MetricMetadata), { type: '1:MetricType', metricFamilyName: '2:string', help: '4:string', unit: '5:string' });
  // Label{a=b}, Sample{1, 1000}, framed by hand from the protobuf encoding rules.
  t.equal(Buffer.from(TimeSeries.encode({ labels: [{ name: 'a', value: 'b' }], samples: [{ value: 1, timestamp: 1000 }] }).finish()).toString('hex'), '0a06' + '0a0161120162' + '120c' + '09000000000000f03f' + '10e807');
});

t.test('a rollup encoded and read back exactly', async (t) => {
  const rollup: Rollup = {
    timestampMs: NOW,
    series: [
      counter('http_requests_total', { service: 'api:8080', side: 'server', path: '/users/{id}', cluster: 'own' }, 42),
      { name: 'http_in_flight_requests', help: 'in flight', type: 'gauge', labels: { service: 'api:8080', error_type: '' }, value: 3.5, startMs: NOW },
      histogram('http_server_request_duration_seconds', { service_name: 'api:8080', http_route: '/users/{id}', http_request_method: 'GET' }, [0.005, 0.01, 0.025], [1, 3, 4], 6, 0.5),
      histogram('http_response_size_bytes', { service: 'api:8080' }, [64, 1048576], [2, 5], 5, 2_000_000),
      counter('http_requests_total', { service: 'web:80', side: 'client', path: '/' }, 7),
    ],
  };
  const bodies = encodeWriteRequest(rollup, { externalLabels: { node: 'node-1', cluster: 'c1', empty: '' } });
  t.equal(bodies.length, 1);
  const d = decodeWriteRequest(bodies[0]);
  const ts = `@${NOW}`;
  t.strictSame(lines(d), [
    `__name__=http_requests_total,cluster=own,node=node-1,path=/users/{id},service=api:8080,side=server 42${ts}`,
    `__name__=http_in_flight_requests,cluster=c1,node=node-1,service=api:8080 3.5${ts}`,
    `__name__=http_server_request_duration_seconds_bucket,cluster=c1,http_request_method=GET,http_route=/users/{id},le=0.005,node=node-1,service_name=api:8080 1${ts}`,
    `__name__=http_server_request_duration_seconds_bucket,cluster=c1,http_request_method=GET,http_route=/users/{id},le=0.01,node=node-1,service_name=api:8080 3${ts}`,
    `__name__=http_server_request_duration_seconds_bucket,cluster=c1,http_request_method=GET,http_route=/users/{id},le=0.025,node=node-1,service_name=api:8080 4${ts}`,
    `__name__=http_server_request_duration_seconds_bucket,cluster=c1,http_request_method=GET,http_route=/users/{id},le=+Inf,node=node-1,service_name=api:8080 6${ts}`,
    `__name__=http_server_request_duration_seconds_sum,cluster=c1,http_request_method=GET,http_route=/users/{id},node=node-1,service_name=api:8080 0.5${ts}`,
    `__name__=http_server_request_duration_seconds_count,cluster=c1,http_request_method=GET,http_route=/users/{id},node=node-1,service_name=api:8080 6${ts}`,
    `__name__=http_response_size_bytes_bucket,cluster=c1,le=64,node=node-1,service=api:8080 2${ts}`,
    `__name__=http_response_size_bytes_bucket,cluster=c1,le=1048576,node=node-1,service=api:8080 5${ts}`,
    `__name__=http_response_size_bytes_bucket,cluster=c1,le=+Inf,node=node-1,service=api:8080 5${ts}`,
    `__name__=http_response_size_bytes_sum,cluster=c1,node=node-1,service=api:8080 2000000${ts}`,
    `__name__=http_response_size_bytes_count,cluster=c1,node=node-1,service=api:8080 5${ts}`,
    `__name__=http_requests_total,cluster=c1,node=node-1,path=/,service=web:80,side=client 7${ts}`,
  ], "sorted labels, __name__ first, the series' own cluster over the external one, empty values left out");
  t.strictSame(d.metadata, [
    { type: 'COUNTER', metricFamilyName: 'http_requests_total', help: 'http_requests_total help', unit: '' },
    { type: 'GAUGE', metricFamilyName: 'http_in_flight_requests', help: 'in flight', unit: '' },
    { type: 'HISTOGRAM', metricFamilyName: 'http_server_request_duration_seconds', help: 'http_server_request_duration_seconds help', unit: '' },
    { type: 'HISTOGRAM', metricFamilyName: 'http_response_size_bytes', help: 'http_response_size_bytes help', unit: '' },
  ], 'one MetricMetadata per family');
  t.strictSame(decodeWriteRequest(encodeWriteRequest(rollup, { externalLabels: {}, metadata: false })[0]).metadata, [], 'metadata: false');
  t.equal(Buffer.from(snappy.uncompress(bodies[0])).toString('hex'), Buffer.from(WriteRequest.encode(WriteRequest.fromObject(d)).finish()).toString('hex'), 'the bytes protobufjs itself writes for that message (series framed by hand, labels encoded once)');

  t.strictSame(DURATION_BOUNDS.map(formatLe), ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10'], 'le as /metrics writes it');
  t.equal(formatLe(Infinity), '+Inf');
});

t.test('labels sort by byte order: an upper-case name goes before __name__', async (t) => {
  const [body] = encodeWriteRequest({ timestampMs: NOW, series: [counter('x_total', { b: '2', a: '1' }, 1)] }, { externalLabels: { Region: 'eu', zone: 'z1' } });
  t.strictSame(lines(decodeWriteRequest(body)), [`Region=eu,__name__=x_total,a=1,b=2,zone=z1 1@${NOW}`]);
});

t.test('an empty rollup is no request; a counter without a value is left out', async (t) => {
  t.strictSame(encodeWriteRequest({ timestampMs: NOW, series: [] }, { externalLabels: { node: 'n' } }), []);
  const [body] = encodeWriteRequest({ timestampMs: NOW, series: [{ ...counter('a_total', {}, 0), value: undefined }, counter('b_total', {}, 0)] }, { externalLabels: {} });
  t.strictSame(lines(decodeWriteRequest(body)), [`__name__=b_total 0@${NOW}`], 'zero is a value');
});

t.test('bodies split at maxSamplesPerRequest (default 2000) and at maxBytesPerRequest', async (t) => {
  const series = Array.from({ length: 4500 }, (_, i) => counter('http_requests_total', { path: `/p/${i}` }, i));
  const rollup: Rollup = { timestampMs: NOW, series };
  const all = lines(decodeWriteRequest(encodeWriteRequest(rollup, { externalLabels: {}, maxSamplesPerRequest: 1e9 })[0]));
  t.equal(all.length, 4500);

  const bySamples = encodeWriteRequests(rollup, { externalLabels: {} });
  t.strictSame(bySamples.map((r) => r.samples), [2000, 2000, 500]);
  const decoded = bySamples.map((r) => decodeWriteRequest(r.body));
  t.strictSame(decoded.flatMap(lines), all, 'every series once, in order');
  t.strictSame(decoded.map((d) => d.metadata.length), [1, 0, 0], 'metadata in the first body only');
  for (const r of bySamples) t.equal(snappy.uncompress(r.body).length, r.bytes, 'bytes: the protobuf before compression');

  const byBytes = encodeWriteRequests(rollup, { externalLabels: {}, maxBytesPerRequest: 4096, metadata: false });
  t.ok(byBytes.length > 20, `${byBytes.length} bodies`);
  t.ok(byBytes.every((r) => r.bytes <= 4096), 'none past maxBytesPerRequest');
  t.ok(byBytes.slice(0, -1).every((r) => r.bytes > 4096 - 100), 'each filled to within one series of it');
  t.strictSame(byBytes.map((r) => decodeWriteRequest(r.body)).flatMap(lines), all);

  const big = counter('big_total', { value: 'v'.repeat(10_000) }, 1);
  const lone = encodeWriteRequests({ timestampMs: NOW, series: [series[0], big, series[1]] }, { externalLabels: {}, maxBytesPerRequest: 4096, metadata: false });
  t.strictSame(lone.map((r) => r.samples), [1, 1, 1], 'a series larger than the limit goes alone');
  t.ok(lone[1].bytes > 10_000);

  const histograms = encodeWriteRequests({ timestampMs: NOW, series: [histogram('h_seconds', {}, DURATION_BOUNDS, DURATION_BOUNDS.map((_, i) => i), 20, 1)] }, { externalLabels: {}, maxSamplesPerRequest: 7 });
  t.strictSame(histograms.map((r) => r.samples), [7, 7, 3], 'a histogram (14 bounds, +Inf, sum, count: 17 samples) may span bodies, as Prometheus splits them');
});

t.test('sendWriteRequest: the protocol headers and the body as encoded', async (t) => {
  const seen: { headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as net.AddressInfo;
  const version = (JSON.parse(fs.readFileSync(path.join(packageRoot(__dirname), 'package.json'), 'utf8')) as { version: string }).version;

  const [body] = encodeWriteRequest({ timestampMs: NOW, series: [counter('x_total', {}, 1)] }, { externalLabels: {} });
  const target: RemoteWriteTarget = {
    name: 'local',
    url: `http://127.0.0.1:${port}/api/v1/write`,
    headers: { 'X-Scope-OrgID': 'tenant-1', 'Content-Encoding': 'gzip' },
    bearerToken: 'tok',
    timeoutMs: 2000,
    externalLabels: {},
  };
  t.match(await sendWriteRequest(target, body), { ok: true, status: 204 });
  t.match(seen[0].headers, {
    'content-encoding': 'snappy',
    'content-type': 'application/x-protobuf',
    'x-prometheus-remote-write-version': '0.1.0',
    'user-agent': `ebpf-http-tracer/${version}`,
    'x-scope-orgid': 'tenant-1',
    authorization: 'Bearer tok',
  }, "the protocol's headers, a user's extra one, not a user's replacement of one of them");
  t.same(seen[0].body, body, 'byte for byte');
  t.ok(Object.isFrozen(REMOTE_WRITE_HEADERS));
});

t.test('the real Prometheus takes two flushes through its remote-write receiver', { skip: prometheusSkipReason() }, async (t) => {
  const prometheus = await startPrometheus();
  t.teardown(() => prometheus.stop());
  const target: RemoteWriteTarget = { name: 'prometheus', url: prometheus.writeUrl, headers: {}, timeoutMs: 5000, externalLabels: { node: 'node-1', cluster: 'test' } };
  const t0 = Date.now() - 10_000;
  const t1 = t0 + 10_000;
  const flush = (timestampMs: number, requests: number, errors: number, cumulative: number[], sum: number): Rollup => ({
    timestampMs,
    series: [
      counter('http_requests_total', { service: 'api:8080', side: 'server', path: '/users/{id}' }, requests),
      counter('http_errors_total', { service: 'api:8080', side: 'server', path: '/users/{id}', error_type: '5xx' }, errors),
      histogram('http_server_request_duration_seconds', { service_name: 'api:8080', http_route: '/users/{id}' }, DURATION_BOUNDS, cumulative, requests, sum),
    ],
  });
  const buckets0 = [1, 4, 6, 8, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10];
  const buckets1 = [3, 9, 15, 20, 22, 24, 25, 25, 25, 25, 25, 25, 25, 25];
  const send = async (rollup: Rollup, what: string) => {
    const bodies = encodeWriteRequests(rollup, { externalLabels: target.externalLabels, maxSamplesPerRequest: 8 });
    t.equal(bodies.length, 3, `${what}: 19 samples in 3 bodies`);
    for (const b of bodies) t.match(await sendWriteRequest(target, b.body), { ok: true, status: 204 }, `${what}: taken`);
    return bodies;
  };

  await send(flush(t0, 10, 1, buckets0, 0.42), 'first flush');
  const bucket = await prometheus.query('http_server_request_duration_seconds_bucket{le="0.01"}', t0);
  t.strictSame(bucket, [
    {
      metric: { __name__: 'http_server_request_duration_seconds_bucket', cluster: 'test', http_route: '/users/{id}', le: '0.01', node: 'node-1', service_name: 'api:8080' },
      value: [t0 / 1000, '4'],
    },
  ], 'the bucket, with its labels and the external ones, at the rollup\'s instant');
  t.equal(await prometheus.value('http_requests_total{service="api:8080",side="server",path="/users/{id}",node="node-1",cluster="test"}', t0), 10);
  t.equal(await prometheus.value('http_errors_total{error_type="5xx"}', t0), 1);
  t.equal(await prometheus.value('http_server_request_duration_seconds_bucket{le="+Inf"}', t0), 10);
  t.equal(await prometheus.value('http_server_request_duration_seconds_count', t0), 10);
  t.equal(await prometheus.value('http_server_request_duration_seconds_sum', t0), 0.42);
  t.equal((await prometheus.query('http_server_request_duration_seconds_bucket', t0)).length, 15, '14 bounds and +Inf');

  const second = await send(flush(t1, 25, 3, buckets1, 1.5), 'second flush, 10 s later');
  t.strictSame(await prometheus.samples('http_requests_total', 60, t1), [
    { metric: { __name__: 'http_requests_total', cluster: 'test', node: 'node-1', path: '/users/{id}', service: 'api:8080', side: 'server' }, samples: [[t0, 10], [t1, 25]] },
  ], 'both samples, at their timestamps');
  t.equal(await prometheus.value('http_requests_total', t1), 25, 'the latest sample');
  t.equal(await prometheus.value('increase(http_requests_total[10s])', t1), 15, 'increase() over the two flushes');
  t.equal(await prometheus.value('increase(http_server_request_duration_seconds_bucket{le="0.01"}[10s])', t1), 5);
  t.equal(await prometheus.value('http_errors_total - http_errors_total offset 10s', t1), 2);
  const p50 = await prometheus.value('histogram_quantile(0.5, sum by (le) (increase(http_server_request_duration_seconds_bucket[10s])))', t1);
  t.ok(p50! > 0.01 && p50! <= 0.025, `p50 of the 15 requests between flushes: ${p50} s`);

  // What a queue replayed after a restart meets. The same body again: an
  // identical sample is ignored, the request taken.
  for (const b of second) t.match(await sendWriteRequest(target, b.body), { ok: true, status: 204 }, 'the same body again: 204');
  // An older body once a newer one is in: refused for good (400).
  const [older] = encodeWriteRequest(flush(t0, 10, 1, buckets0, 0.42), { externalLabels: target.externalLabels });
  t.match(await sendWriteRequest(target, older), { ok: false, status: 400, retryable: false, message: 'out of order sample' }, 'an older body: 400');
  // The same instant with other values: refused for good too.
  const [changed] = encodeWriteRequest(flush(t1, 26, 3, buckets1, 1.5), { externalLabels: target.externalLabels });
  t.match(await sendWriteRequest(target, changed), { ok: false, status: 400, retryable: false, message: 'duplicate sample for timestamp' }, 'the same timestamp, another value: 400');
  // One out-of-order sample refuses the whole request: the new series in it is not stored either.
  const [mixed] = encodeWriteRequest({ timestampMs: t1 - 5000, series: [counter('brand_new_total', {}, 1), counter('http_requests_total', { service: 'api:8080', side: 'server', path: '/users/{id}' }, 20)] }, { externalLabels: target.externalLabels });
  t.match(await sendWriteRequest(target, mixed), { ok: false, status: 400, message: 'out of order sample' });
  t.strictSame(await prometheus.query('brand_new_total', t1), [], 'nothing of a refused request is kept');
  // Over an hour before the newest sample: out of the head's bounds.
  const [ancient] = encodeWriteRequest({ timestampMs: t1 - 2 * 3600_000, series: [counter('ancient_total', {}, 1)] }, { externalLabels: {} });
  t.match(await sendWriteRequest(target, ancient), { ok: false, status: 400, retryable: false, message: 'out of bounds' });
  t.equal(await prometheus.value('http_requests_total', t1), 25, 'the stored values unchanged');
  t.equal(await prometheus.metric('prometheus_http_requests_total{code="400",handler="/api/v1/write"}'), 4, "Prometheus's own count of refused writes");
});
