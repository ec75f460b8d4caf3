/**
 * The OTLP/HTTP metrics wire format (src/exporters/otlp/): the embedded
 * schema against upstream's field table, a rollup (two counter series under
 * one name, a gauge, a histogram) encoded and decoded with the same protos
 * and every field checked exactly (ns timestamps past 2^53, per-bucket
 * counts with +Inf), the raw fixed64 bytes, an empty rollup, the request
 * URL and the answer's partial success, and a real receiver on loopback that
 * gets the POSTed body (plain and gzip) and decodes it.
 */
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import type protobuf from 'protobufjs';
import type { Rollup } from '../../src/exporters/rollup';
import {
  AggregationTemporality,
  attributeMap,
  decodeOtlp,
  encodeExportResponse,
  encodeOtlp,
  OTLP_CONTENT_TYPE,
  OTLP_METRICS_PATH,
  OTLP_REQUEST_HEADERS,
  otlpMetricsUrl,
  otlpTypes,
  otlpUnit,
  perBucketCounts,
  readExportResponse,
  unixNanos,
  type OtlpExportRequest,
  type OtlpResource,
} from '../../src/exporters/otlp';

const VERSION = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

const T_MS = 1_800_000_000_123;
const T_NS = 1_800_000_000_123_000_000n; // > 2^53: a double would round it
const START_MS = 1_799_999_000_007;
const START_NS = 1_799_999_000_007_000_000n;
const GAUGE_START_MS = 1_799_999_500_000;
const GAUGE_START_NS = 1_799_999_500_000_000_000n;

const RESOURCE: OtlpResource = { 'host.name': 'node-7', 'service.name': 'http-tracer', 'service.version': '0.1.0' };

const ROLLUP: Rollup = {
  timestampMs: T_MS,
  series: [
    {
      name: 'http_requests_total',
      help: 'HTTP requests seen',
      type: 'counter',
      // Out of key order on purpose: attributes come out sorted by key.
      labels: { service: 'api:8080', path: '/users/{id}', method: 'GET', status_code: '200' },
      value: 1234,
      startMs: START_MS,
    },
    {
      name: 'http_tracer_queue_records',
      help: 'Records waiting in the queue',
      type: 'gauge',
      labels: {},
      value: 17.5,
      startMs: GAUGE_START_MS,
    },
    {
      name: 'http_requests_total',
      help: 'HTTP requests seen',
      type: 'counter',
      labels: { method: 'POST', path: '/orders', service: 'api:8080', status_code: '500' },
      value: 3,
      startMs: START_MS,
    },
    {
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      type: 'histogram',
      labels: { method: 'GET', service: 'api:8080' },
      histogram: { bounds: [0.005, 0.05, 0.5, 5], cumulative: [10, 40, 90, 99], count: 100, sum: 12.25 },
      startMs: START_MS,
    },
  ],
};

const str = (v: string) => ({ string_value: v });

/** The whole decoded request, every field as it must come out. */
const EXPECTED: OtlpExportRequest = {
  resource_metrics: [
    {
      resource: {
        attributes: [
          { key: 'host.name', value: str('node-7') },
          { key: 'service.name', value: str('http-tracer') },
          { key: 'service.version', value: str('0.1.0') },
        ],
        dropped_attributes_count: 0,
      },
      scope_metrics: [
        {
          scope: { name: 'ebpf-http-tracer', version: VERSION },
          metrics: [
            {
              name: 'http_requests_total',
              description: 'HTTP requests seen',
              unit: '1',
              sum: {
                aggregation_temporality: 2,
                is_monotonic: true,
                data_points: [
                  {
                    attributes: [
                      { key: 'method', value: str('GET') },
                      { key: 'path', value: str('/users/{id}') },
                      { key: 'service', value: str('api:8080') },
                      { key: 'status_code', value: str('200') },
                    ],
                    start_time_unix_nano: START_NS,
                    time_unix_nano: T_NS,
                    as_double: 1234,
                    flags: 0,
                  },
                  {
                    attributes: [
                      { key: 'method', value: str('POST') },
                      { key: 'path', value: str('/orders') },
                      { key: 'service', value: str('api:8080') },
                      { key: 'status_code', value: str('500') },
                    ],
                    start_time_unix_nano: START_NS,
                    time_unix_nano: T_NS,
                    as_double: 3,
                    flags: 0,
                  },
                ],
              },
            },
            {
              name: 'http_tracer_queue_records',
              description: 'Records waiting in the queue',
              unit: '1',
              gauge: {
                data_points: [{ attributes: [], start_time_unix_nano: GAUGE_START_NS, time_unix_nano: T_NS, as_double: 17.5, flags: 0 }],
              },
            },
            {
              name: 'http_request_duration_seconds',
              description: 'HTTP request duration',
              unit: 's',
              histogram: {
                aggregation_temporality: 2,
                data_points: [
                  {
                    attributes: [
                      { key: 'method', value: str('GET') },
                      { key: 'service', value: str('api:8080') },
                    ],
                    start_time_unix_nano: START_NS,
                    time_unix_nano: T_NS,
                    count: 100n,
                    sum: 12.25,
                    // per bucket: ≤0.005, (0.005,0.05], (0.05,0.5], (0.5,5], +Inf
                    bucket_counts: [10n, 30n, 50n, 9n, 1n],
                    explicit_bounds: [0.005, 0.05, 0.5, 5],
                    flags: 0,
                  },
                ],
              },
            },
          ],
          schema_url: '',
        },
      ],
      schema_url: '',
    },
  ],
};

t.test('the embedded schema has upstream opentelemetry-proto field numbers and wire types', async (t) => {
  // From opentelemetry-proto (checked against opentelemetry-proto-go's generated tags): name → [id, type, repeated].
  const upstream: Record<string, Record<string, [number, string, boolean]>> = {
    'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest': { resource_metrics: [1, 'opentelemetry.proto.metrics.v1.ResourceMetrics', true] },
    'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse': { partial_success: [1, 'opentelemetry.proto.collector.metrics.v1.ExportMetricsPartialSuccess', false] },
    'opentelemetry.proto.collector.metrics.v1.ExportMetricsPartialSuccess': { rejected_data_points: [1, 'int64', false], error_message: [2, 'string', false] },
    'opentelemetry.proto.metrics.v1.ResourceMetrics': {
      resource: [1, 'opentelemetry.proto.resource.v1.Resource', false],
      scope_metrics: [2, 'opentelemetry.proto.metrics.v1.ScopeMetrics', true],
      schema_url: [3, 'string', false],
    },
    'opentelemetry.proto.metrics.v1.ScopeMetrics': {
      scope: [1, 'opentelemetry.proto.common.v1.InstrumentationScope', false],
      metrics: [2, 'opentelemetry.proto.metrics.v1.Metric', true],
      schema_url: [3, 'string', false],
    },
    'opentelemetry.proto.metrics.v1.Metric': {
      name: [1, 'string', false],
      description: [2, 'string', false],
      unit: [3, 'string', false],
      gauge: [5, 'opentelemetry.proto.metrics.v1.Gauge', false],
      sum: [7, 'opentelemetry.proto.metrics.v1.Sum', false],
      histogram: [9, 'opentelemetry.proto.metrics.v1.Histogram', false],
    },
    'opentelemetry.proto.metrics.v1.Gauge': { data_points: [1, 'opentelemetry.proto.metrics.v1.NumberDataPoint', true] },
    'opentelemetry.proto.metrics.v1.Sum': {
      data_points: [1, 'opentelemetry.proto.metrics.v1.NumberDataPoint', true],
      aggregation_temporality: [2, 'opentelemetry.proto.metrics.v1.AggregationTemporality', false],
      is_monotonic: [3, 'bool', false],
    },
    'opentelemetry.proto.metrics.v1.Histogram': {
      data_points: [1, 'opentelemetry.proto.metrics.v1.HistogramDataPoint', true],
      aggregation_temporality: [2, 'opentelemetry.proto.metrics.v1.AggregationTemporality', false],
    },
    'opentelemetry.proto.metrics.v1.NumberDataPoint': {
      start_time_unix_nano: [2, 'fixed64', false],
      time_unix_nano: [3, 'fixed64', false],
      as_double: [4, 'double', false],
      as_int: [6, 'sfixed64', false],
      attributes: [7, 'opentelemetry.proto.common.v1.KeyValue', true],
      flags: [8, 'uint32', false],
    },
    'opentelemetry.proto.metrics.v1.HistogramDataPoint': {
      start_time_unix_nano: [2, 'fixed64', false],
      time_unix_nano: [3, 'fixed64', false],
      count: [4, 'fixed64', false],
      sum: [5, 'double', false],
      bucket_counts: [6, 'fixed64', true],
      explicit_bounds: [7, 'double', true],
      attributes: [9, 'opentelemetry.proto.common.v1.KeyValue', true],
      flags: [10, 'uint32', false],
      min: [11, 'double', false],
      max: [12, 'double', false],
    },
    'opentelemetry.proto.common.v1.KeyValue': { key: [1, 'string', false], value: [2, 'opentelemetry.proto.common.v1.AnyValue', false] },
    'opentelemetry.proto.common.v1.AnyValue': {
      string_value: [1, 'string', false],
      bool_value: [2, 'bool', false],
      int_value: [3, 'int64', false],
      double_value: [4, 'double', false],
    },
    'opentelemetry.proto.common.v1.InstrumentationScope': { name: [1, 'string', false], version: [2, 'string', false] },
    'opentelemetry.proto.resource.v1.Resource': {
      attributes: [1, 'opentelemetry.proto.common.v1.KeyValue', true],
      dropped_attributes_count: [2, 'uint32', false],
    },
  };
  const { root } = otlpTypes();
  for (const [typeName, fields] of Object.entries(upstream)) {
    const type = root.lookupType(typeName);
    const actual: Record<string, [number, string, boolean]> = {};
    for (const f of type.fieldsArray) {
      const resolved = f.resolve().resolvedType as protobuf.Type | protobuf.Enum | null;
      actual[f.name] = [f.id, resolved ? resolved.fullName.slice(1) : f.type, f.repeated];
    }
    t.strictSame(actual, fields, typeName);
  }
  // The optional ones (proto3 `optional`): absent unless set.
  const hdp = root.lookupType('opentelemetry.proto.metrics.v1.HistogramDataPoint');
  for (const name of ['sum', 'min', 'max']) t.ok(hdp.fields[name].options?.proto3_optional, `HistogramDataPoint.${name} is optional`);
  const temporality = root.lookupEnum('opentelemetry.proto.metrics.v1.AggregationTemporality');
  t.strictSame({ ...temporality.values }, { AGGREGATION_TEMPORALITY_UNSPECIFIED: 0, AGGREGATION_TEMPORALITY_DELTA: 1, AGGREGATION_TEMPORALITY_CUMULATIVE: 2 });
  t.strictSame(AggregationTemporality, { UNSPECIFIED: 0, DELTA: 1, CUMULATIVE: 2 });
});

t.test('a rollup decodes to exactly the expected request', async (t) => {
  const body = encodeOtlp(ROLLUP, RESOURCE);
  t.ok(Buffer.isBuffer(body));
  const decoded = decodeOtlp(body);
  t.strictSame(decoded, EXPECTED);

  // The points that matter, spelled out once more.
  const [requests, queue, duration] = decoded.resource_metrics[0].scope_metrics[0].metrics;
  t.equal(requests.sum?.aggregation_temporality, AggregationTemporality.CUMULATIVE);
  t.equal(requests.sum?.is_monotonic, true);
  t.equal(requests.sum?.data_points.length, 2, 'two series, one Metric');
  t.strictSame(attributeMap(requests.sum!.data_points[1].attributes), { method: 'POST', path: '/orders', service: 'api:8080', status_code: '500' });
  t.equal(queue.gauge?.data_points[0].as_double, 17.5);
  t.equal(duration.histogram?.aggregation_temporality, AggregationTemporality.CUMULATIVE);
  const point = duration.histogram!.data_points[0];
  t.equal(point.time_unix_nano, 1800000000123000000n);
  t.equal(point.bucket_counts.length, point.explicit_bounds.length + 1, 'one bucket more than bounds (+Inf)');
  t.equal(point.bucket_counts.reduce((a, b) => a + b, 0n), point.count, 'per-bucket counts add up to count');
  t.strictSame(attributeMap(decoded.resource_metrics[0].resource!.attributes), RESOURCE);
  t.end();
});

t.test('timestamps go on the wire as exact fixed64 little-endian nanoseconds', async (t) => {
  const body = encodeOtlp({ timestampMs: T_MS, series: [{ name: 'g', help: '', type: 'gauge', labels: {}, value: 1, startMs: START_MS }] }, RESOURCE);
  const le = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return b;
  };
  // NumberDataPoint: field 2 (start) tag 0x11, field 3 (time) tag 0x19, both wire type 1 (64-bit).
  t.ok(body.includes(Buffer.concat([Buffer.from([0x11]), le(START_NS)])), 'start_time_unix_nano bytes');
  t.ok(body.includes(Buffer.concat([Buffer.from([0x19]), le(T_NS)])), 'time_unix_nano bytes');
  t.not(Number(T_NS), T_NS, 'the value is past what a double holds exactly (the point of the test)');
  t.end();
});

t.test('an empty rollup: the resource and the scope, no metrics', async (t) => {
  const decoded = decodeOtlp(encodeOtlp({ timestampMs: T_MS, series: [] }, { 'host.name': 'h', 'service.name': 's' }));
  t.strictSame(decoded, {
    resource_metrics: [
      {
        resource: { attributes: [{ key: 'host.name', value: str('h') }, { key: 'service.name', value: str('s') }], dropped_attributes_count: 0 },
        scope_metrics: [{ scope: { name: 'ebpf-http-tracer', version: VERSION }, metrics: [], schema_url: '' }],
        schema_url: '',
      },
    ],
  });
  t.end();
});

t.test('resource attributes: extra keys kept in order, undefined ones left out', async (t) => {
  const decoded = decodeOtlp(
    encodeOtlp({ timestampMs: T_MS, series: [] }, { 'host.name': 'h', 'service.name': 's', 'service.version': undefined, 'deployment.environment': 'prod' }),
  );
  t.strictSame(decoded.resource_metrics[0].resource!.attributes.map((a) => a.key), ['host.name', 'service.name', 'deployment.environment']);
  t.end();
});

t.test('series without a value are left out, and a name with no points too', async (t) => {
  const decoded = decodeOtlp(
    encodeOtlp(
      {
        timestampMs: T_MS,
        series: [
          { name: 'a_total', help: '', type: 'counter', labels: { k: 'x' }, startMs: START_MS },
          { name: 'a_total', help: '', type: 'counter', labels: { k: 'y' }, value: 0, startMs: START_MS },
          { name: 'h_seconds', help: '', type: 'histogram', labels: {}, startMs: START_MS },
        ],
      },
      RESOURCE,
    ),
  );
  const metrics = decoded.resource_metrics[0].scope_metrics[0].metrics;
  t.strictSame(metrics.map((m) => m.name), ['a_total']);
  t.equal(metrics[0].sum!.data_points.length, 1);
  t.equal(metrics[0].sum!.data_points[0].as_double, 0, 'a zero value is a value');
  t.end();
});

t.test('units from the name: seconds, bytes (through _total), else 1', async (t) => {
  t.equal(otlpUnit('http_request_duration_seconds'), 's');
  t.equal(otlpUnit('http_tracer_capture_stalled_seconds_total'), 's');
  t.equal(otlpUnit('http_response_size_bytes'), 'By');
  t.equal(otlpUnit('http_received_bytes_total'), 'By');
  t.equal(otlpUnit('http_requests_total'), '1');
  t.equal(otlpUnit('http_tracer_queue_records'), '1');
  t.equal(otlpUnit('seconds_ago'), '1', 'a suffix, not a substring');
  t.end();
});

t.test('per-bucket counts from cumulative ones', async (t) => {
  t.strictSame(perBucketCounts({ bounds: [1, 2, 3], cumulative: [1, 1, 4], count: 6, sum: 0 }), [1, 0, 3, 2]);
  t.strictSame(perBucketCounts({ bounds: [], cumulative: [], count: 5, sum: 0 }), [5], 'no bounds: the +Inf bucket only');
  t.strictSame(perBucketCounts({ bounds: [1, 2], cumulative: [0, 0], count: 0, sum: 0 }), [0, 0, 0]);
  t.strictSame(perBucketCounts({ bounds: [1, 2], cumulative: [3, 2], count: 1, sum: 0 }), [3, 0, 0], 'inconsistent input never goes negative');
  t.end();
});

t.test('unixNanos is exact, sub-millisecond included', async (t) => {
  t.equal(unixNanos(T_MS), T_NS);
  t.equal(unixNanos(0), 0n);
  t.equal(unixNanos(1.5), 1_500_000n);
  t.equal(unixNanos(1_800_000_000_123.25), 1_800_000_000_123_250_000n);
  t.end();
});

t.test('the export URL', async (t) => {
  t.equal(OTLP_METRICS_PATH, '/v1/metrics');
  t.equal(OTLP_CONTENT_TYPE, 'application/x-protobuf');
  t.strictSame(OTLP_REQUEST_HEADERS, { 'content-type': 'application/x-protobuf' });
  t.equal(otlpMetricsUrl('http://collector:4318'), 'http://collector:4318/v1/metrics');
  t.equal(otlpMetricsUrl('http://collector:4318/'), 'http://collector:4318/v1/metrics');
  t.equal(otlpMetricsUrl('https://otlp.example.com/otlp'), 'https://otlp.example.com/otlp/v1/metrics');
  t.equal(otlpMetricsUrl('https://otlp.example.com/otlp/v1/metrics'), 'https://otlp.example.com/otlp/v1/metrics', 'already there: as is');
  t.equal(otlpMetricsUrl('http://c:4318/v1/metrics/'), 'http://c:4318/v1/metrics');
  t.equal(otlpMetricsUrl('http://c:4318/p?tenant=a'), 'http://c:4318/p/v1/metrics?tenant=a', 'the query is kept');
  t.throws(() => otlpMetricsUrl('not a url'), TypeError);
  t.end();
});

t.test('the answer: partial success or not', async (t) => {
  t.equal(readExportResponse(Buffer.alloc(0)), null, 'empty body: accepted whole');
  t.equal(readExportResponse(encodeExportResponse()), null, 'no partial_success');
  t.equal(readExportResponse(encodeExportResponse({ rejectedDataPoints: 0, errorMessage: '' })), null, 'an empty partial_success is full success');
  t.strictSame(readExportResponse(encodeExportResponse({ rejectedDataPoints: 3, errorMessage: 'bad label' })), { rejectedDataPoints: 3, errorMessage: 'bad label' });
  t.strictSame(readExportResponse(encodeExportResponse({ rejectedDataPoints: 0, errorMessage: 'deprecated' })), { rejectedDataPoints: 0, errorMessage: 'deprecated' }, 'a warning');
  t.equal(readExportResponse(Buffer.from('<html>ok</html>'), 'text/html'), null, 'not a response: the status decides');
  t.strictSame(
    readExportResponse(Buffer.from(JSON.stringify({ partialSuccess: { rejectedDataPoints: '2', errorMessage: 'x' } })), 'application/json; charset=utf-8'),
    { rejectedDataPoints: 2, errorMessage: 'x' },
    'the JSON form',
  );
  t.equal(readExportResponse(Buffer.from('{}'), 'application/json'), null);
  t.end();
});

interface Got {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A loopback OTLP receiver: keeps each request's raw body, answers with a partial success. */
async function startOtlpReceiver(answer: Buffer): Promise<{ url: string; got: Got[]; close: () => Promise<void> }> {
  const got: Got[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
      got.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': OTLP_CONTENT_TYPE, 'content-length': answer.length });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, got, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function post(url: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; contentType: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('a real receiver on loopback gets the body and decodes it with the same protos', async (t) => {
  const receiver = await startOtlpReceiver(encodeExportResponse({ rejectedDataPoints: 1, errorMessage: 'one point refused' }));
  t.teardown(receiver.close);
  const body = encodeOtlp(ROLLUP, RESOURCE);

  const plain = await post(otlpMetricsUrl(receiver.url), { ...OTLP_REQUEST_HEADERS }, body);
  t.equal(plain.status, 200);
  t.strictSame(readExportResponse(plain.body, plain.contentType), { rejectedDataPoints: 1, errorMessage: 'one point refused' });

  const gzipped = await post(otlpMetricsUrl(`${receiver.url}/`), { ...OTLP_REQUEST_HEADERS, 'content-encoding': 'gzip' }, zlib.gzipSync(body));
  t.equal(gzipped.status, 200);

  t.equal(receiver.got.length, 2);
  for (const got of receiver.got) {
    t.equal(got.method, 'POST');
    t.equal(got.url, '/v1/metrics');
    t.equal(got.headers['content-type'], 'application/x-protobuf');
    t.ok(got.body.equals(body), 'the bytes sent are the bytes received');
    t.strictSame(decodeOtlp(got.body), EXPECTED);
  }
});
