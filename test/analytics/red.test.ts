/**
 * RED's one rule (src/analytics/red.ts) and its one computation; then the same
 * recorded traffic — an exchange aborted after its status line and one with no
 * response among it — through every surface that shows requests and errors:
 * /api/metrics, /metrics (http_errors_total and the OpenTelemetry histogram),
 * the live realtime_update and new_event, alert rules, and `replay --summary`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { engineReaders } from '../../src/agent/readers';
import { resolveAlertMetric, type AlertMetric } from '../../src/alerting/alert-metrics';
import type { DeltaCell } from '../../src/analytics/cells';
import { Distribution } from '../../src/analytics/distribution';
import { DEFAULT_DURATION_BUCKETS_SECONDS, FAMILIES, seriesKey } from '../../src/analytics/families';
import { errorTypeOf, red, redPoints, redRows } from '../../src/analytics/red';
import { MetricStore } from '../../src/analytics/store';
import { ExchangeFlags as F } from '../../src/capture/abi';
import { CaptureFileWriter } from '../../src/capture/capture-file';
import { summaryCommand } from '../../src/cli/summary';
import { createExporter } from '../../src/exporters/prometheus';
import { connect, NOW, startLive } from '../helpers/live';
import { batchOf, encodeExchange } from '../helpers/records';

t.test('the rule: not completed is an error on both sides; 5xx on both; 4xx only for the client', async (t) => {
  const cases: [side: 'server' | 'client', status: number, abortReason: string, expected: string][] = [
    ['server', 200, '', ''],
    ['server', 204, '', ''],
    ['server', 101, '', ''],
    ['server', 304, '', ''],
    ['server', 404, '', ''],
    ['server', 499, '', ''],
    ['server', 500, '', '5xx'],
    ['server', 503, '', '5xx'],
    ['server', 200, 'closed', 'aborted'],
    ['server', 200, 'reset', 'reset'],
    ['server', 503, 'timeout', 'aborted'],
    ['server', 0, 'closed', 'aborted'],
    ['server', 0, 'process_exit', 'aborted'],
    ['server', 0, '', 'aborted'],
    ['client', 200, '', ''],
    ['client', 399, '', ''],
    ['client', 400, '', '4xx'],
    ['client', 404, '', '4xx'],
    ['client', 502, '', '5xx'],
    ['client', 0, 'timeout', 'aborted'],
    ['client', 404, 'reset', 'reset'],
  ];
  for (const [side, status, reason, expected] of cases) t.equal(errorTypeOf(side, status, reason), expected, `${side} ${status} ${reason || 'completed'}`);
});

const T0 = 1_800_000_000_000;

function durations(labels: string[], values: number[], bucketMs = T0): DeltaCell {
  const d = new Distribution();
  values.forEach((v) => d.record(v));
  return { family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs, value: values.length, dist: d.toData(), bounds: [values.length, ...new Array(DEFAULT_DURATION_BUCKETS_SECONDS.length).fill(0)] };
}

t.test('RED rows and points from the duration histogram: errors are the exchanges with an error_type', async (t) => {
  let now = T0 + 20_000;
  const s = new MetricStore({ families: FAMILIES, retentionMs: 86_400_000, limits: { perService: 100, global: 1000 }, now: () => now });
  const api = (route: string, code: string, type: string) => ['api:80', 'server', '80', 'GET', route, code, type];
  s.ingest([
    durations(api('/a', '200', ''), [0.01, 0.02, 0.03, 0.04]),
    durations(api('/a', '404', ''), [0.001]),
    durations(api('/a', '503', '5xx'), [0.5, 0.5]),
    durations(api('/a', '200', 'aborted'), [0.2]),
    durations(api('/b', '200', ''), [0.01, 0.01]),
    durations(['web:80', 'server', '80', 'GET', '/', '200', ''], [0.01]),
  ]);
  t.same(
    redRows(s, 60_000, ['service']).map((r) => [r.labels.service, r.requests, r.requestsPerSecond, r.errors, r.errorsPerSecond, r.errorRate]),
    [
      ['api:80', 10, 0.5, 3, 0.15, 0.3],
      ['web:80', 1, 0.05, 0, 0, 0],
    ],
    '20 s covered; the 404 is a request, not an error',
  );
  const [a] = redRows(s, 60_000, ['route'], { route: '/a' });
  t.same([a.requests, a.errors, a.latencySeconds.p50, a.latencySeconds.max], [8, 3, 0.03, 0.5]);
  t.same(redRows(s, 60_000, [], { service: 'nobody' }), [], 'no traffic, no row');
  now = T0 + 25_000;
  s.ingest([durations(api('/a', '500', '5xx'), [0.1], T0 + 10_000)]);
  t.same(
    redPoints(s, { service: 'api:80' }, T0, T0 + 20_000, 10_000).map((p) => [p.t, p.red.requests, p.red.errors]),
    [
      [T0, 10, 3],
      [T0 + 10_000, 1, 1],
    ],
  );
  const none = red(undefined, undefined);
  t.same([none.requests, none.errors, none.errorRate, none.latencySeconds.p99], [0, 0, 0, NaN], 'nothing: zeros, latency unknown');
});

// Every record the same size (the live helper counts records by the size of one).
const HEAD_BYTES = 32;
const END_MS = NOW - 2000;
function exchange(i: number, side: 'server' | 'client', status: number, flags = 0): Buffer {
  const endNs = BigInt(END_MS - i) * 1_000_000n;
  const common = { status, flags, startNs: endNs - 5_000_000n, endNs, headCapacity: HEAD_BYTES, head: `GET /items/${i} HTTP/1.1\r\n\r\n` };
  return side === 'server' ? encodeExchange({ ...common, comm: 'api', localPort: 8080 }) : encodeExchange({ ...common, direction: 'client', comm: 'curl', localPort: 50000 + i, peerPort: 8080 });
}
const ABORTED = F.aborted;
const TRAFFIC = [
  ...[200, 200, 200, 404, 500, 503].map((status, i) => exchange(i, 'server', status)),
  exchange(6, 'server', 200, ABORTED | F.closed), // aborted after its status line: the body never finished
  exchange(7, 'server', 0, ABORTED | F.closed | F.noResponseHead), // no response at all
  exchange(8, 'server', 200, ABORTED | F.reset),
  ...[200, 200, 404, 503].map((status, i) => exchange(10 + i, 'client', status)),
  exchange(14, 'client', 0, ABORTED | F.timeout | F.noResponseHead),
];
/** What the rule makes of TRAFFIC: [requests, errors] per service. */
const EXPECTED = { 'api:8080': [9, 5], curl: [5, 3] };

t.test('the same traffic, the same requests and errors on every surface', async (t) => {
  const { engine, hub, url, http } = await startLive(t, {}, batchOf(...TRAFFIC));
  const perService = (rows: { service: string; requests: number; errors: number }[]) => Object.fromEntries(rows.map((r) => [r.service, [r.requests, r.errors]]));

  const rest = (await (await fetch(`${http}/api/metrics?window=1m`)).json()) as { totals: { requests: number; errors: number }; services: { service: string; requests: number; errors: number }[] };
  t.same([rest.totals.requests, rest.totals.errors], [14, 8], '/api/metrics totals');
  t.same(perService(rest.services), EXPECTED, '/api/metrics per service');

  const c = await connect(`${url}/ws/red`);
  c.send({ type: 'subscribe', query_id: 'q', window: '1m' });
  const update = (await c.next('realtime_update')).data as typeof rest;
  t.same([update.totals.requests, update.totals.errors, perService(update.services)], [14, 8, EXPECTED], 'realtime_update');
  c.send({ type: 'subscribe', query_id: 'tail', stream: 'exchanges' });
  await c.next('subscribed', 1000, (m) => m.query_id === 'tail');
  hub.exchanges(batchOf(...TRAFFIC), TRAFFIC.length, 0);
  const events: { process: string; error_type: string }[] = [];
  for (let i = 0; i < TRAFFIC.length; i++) events.push((await c.next('new_event')).data as (typeof events)[number]);
  t.same(
    events.filter((e) => e.error_type !== '').map((e) => e.error_type),
    ['5xx', '5xx', 'aborted', 'aborted', 'reset', '4xx', '5xx', 'aborted'],
    'new_event (the dashboard tail) marks the same exchanges',
  );
  c.ws.close();

  const scrape = await createExporter(engineReaders(engine)).scrape();
  /** The sum of the values of the lines of `metric` that carry every one of `labels`. */
  const sum = (metric: string, ...labels: string[]): number =>
    scrape
      .split('\n')
      .filter((l) => l.startsWith(metric + '{') && labels.every((label) => l.includes(label)))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  for (const [service, side] of [['api:8080', 'server'], ['curl', 'client']] as const) {
    const otel = `http_${side}_request_duration_seconds_count`;
    t.same(
      [sum(otel, `service_name="${service}"`), sum(otel, `service_name="${service}"`, 'error_type="'), sum('http_errors_total', `service="${service}"`)],
      [...EXPECTED[service], EXPECTED[service][1]],
      `/metrics ${service}: the OpenTelemetry histogram counts, those with error_type, and http_errors_total summed`,
    );
  }
  t.ok(
    scrape.includes('http_server_request_duration_seconds_count{service_name="api:8080",server_port="8080",http_request_method="GET",http_route="/items/{id}",http_response_status_code="200",error_type="aborted",url_scheme="http"} 1'),
    'the 200 cut off after its status line: an error by error_type, its status kept',
  );
  t.ok(
    scrape.includes('http_server_request_duration_seconds_count{service_name="api:8080",server_port="8080",http_request_method="GET",http_route="/items/{id}",http_response_status_code="404",url_scheme="http"} 1'),
    "the server's 404: counted, not an error",
  );

  // Alert rules read the same numbers (http_errors_total / http_requests_total per service over the window).
  const alertValues = (name: string): Record<string, number> => {
    const metric = resolveAlertMetric(name) as AlertMetric;
    return Object.fromEntries([...metric.values(engine.store, 60_000, {}, ['service'], NOW)].map(([, g]) => [g.labels.service, g.value]));
  };
  const requests = alertValues('http_requests_total');
  const errors = alertValues('http_errors_total');
  t.same(Object.fromEntries(Object.keys(requests).map((s) => [s, [requests[s], errors[s] ?? 0]])), EXPECTED, 'alert rules: http_requests_total and http_errors_total per service');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'red-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'traffic.htcap');
  const writer = new CaptureFileWriter(file, 0n);
  writer.write(batchOf(...TRAFFIC), TRAFFIC.length);
  writer.close();
  const stdout = new PassThrough();
  const out: Buffer[] = [];
  stdout.on('data', (b: Buffer) => out.push(b));
  t.equal(await summaryCommand(file, { json: true }, { stdout, stderr: new PassThrough(), stopRequested: new Promise(() => undefined) }), 0);
  const summary = JSON.parse(Buffer.concat(out).toString()) as { rows: { service: string; requests: number; errors: number }[] };
  const totals: Record<string, number[]> = {};
  for (const r of summary.rows) {
    const [requests, errors] = totals[r.service] ?? [0, 0];
    totals[r.service] = [requests + r.requests, errors + r.errors];
  }
  t.same(totals, EXPECTED, 'replay --summary');
});
