/**
 * `replay FILE --summary`: a capture file through the engine and back out as
 * the RED view per service and route, the same every time; and its usage errors.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CaptureFileWriter } from '../../src/capture/capture-file';
import { BIN, run } from '../helpers/kernel';
import { batchOf, encodeExchange } from '../helpers/records';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'summary-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const T0_MS = 1_800_000_000_000n; // a multiple of 10 s
const at = (ms: number, durationMs: number) => ({ endNs: (T0_MS + BigInt(ms)) * 1_000_000n, startNs: (T0_MS + BigInt(ms - durationMs)) * 1_000_000n });
const file = path.join(dir, 'capture.htcap');
const writer = new CaptureFileWriter(file, 0n);
const users = Array.from({ length: 10 }, (_, i) =>
  encodeExchange({ comm: 'api', localPort: 8080, head: `GET /users/${i + 1} HTTP/1.1\r\n\r\n`, status: i < 2 ? 500 : 200, ...at(1000 * i, 10 * (i + 1)) }),
);
const health = Array.from({ length: 5 }, (_, i) => encodeExchange({ comm: 'api', localPort: 8080, head: 'GET /health HTTP/1.1\r\n\r\n', ...at(1000 * i + 500, 1) }));
const client = encodeExchange({ direction: 'client', comm: 'curl', peerPort: 8080, localPort: 50000, head: 'GET /users/5?x=<script> HTTP/1.1\r\n\r\n', ...at(15_000, 3) });
writer.write(batchOf(...users.slice(0, 6), ...health), 11);
writer.write(batchOf(...users.slice(6), client), 5);
writer.close();

t.test('the RED view per service and route, as JSON', async (t) => {
  const r = await run(process.execPath, [BIN, 'replay', file, '--summary', '--json']);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.same([out.exchanges, out.windowSeconds, out.end], [16, 60, '2027-01-15T08:00:15.000Z']);
  t.same(out.rows, [
    // 15 s covered: from the first bucket (T0) to the last exchange.
    { service: 'api:8080', side: 'server', route: '/users/{id}', requests: 10, ratePerSecond: 10 / 15, errors: 2, p50Seconds: 0.05, p95Seconds: 0.09, p99Seconds: 0.09 },
    { service: 'api:8080', side: 'server', route: '/health', requests: 5, ratePerSecond: 5 / 15, errors: 0, p50Seconds: 0.001, p95Seconds: 0.001, p99Seconds: 0.001 },
    { service: 'curl', side: 'client', route: '/users/{id}', requests: 1, ratePerSecond: 1 / 15, errors: 0, p50Seconds: 0.003, p95Seconds: 0.003, p99Seconds: 0.003 },
  ]);
  const again = await run(process.execPath, [BIN, 'replay', file, '--summary', '--json']);
  t.equal(again.stdout, r.stdout, 'the same file, the same summary');
});

t.test('the table, the window and the top N', async (t) => {
  const r = await run(process.execPath, [BIN, 'replay', file, '--summary', '--window', '5m', '--top', '2']);
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.split('\n'), [
    '16 exchanges; window 300s ending 2027-01-15T08:00:15.000Z (the last exchange)',
    'SERVICE   SIDE    ROUTE        REQUESTS  RATE/S  ERRORS     P50     P95     P99',
    'api:8080  server  /users/{id}        10    0.67   20.0%  50.0ms  90.0ms  90.0ms',
    'api:8080  server  /health             5    0.33    0.0%  1.00ms  1.00ms  1.00ms',
    '… 1 more (--top N)',
    '',
  ]);
});

t.test('a configuration file and the environment shape the engine', async (t) => {
  const config = path.join(dir, 'config.json');
  fs.writeFileSync(config, JSON.stringify({ output: { analytics: { route_patterns: ['/users/:user'], worker_threads: 2 } } }));
  const r = await run(process.execPath, [BIN, 'replay', file, '--summary', '--json', '--config', config]);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout).rows.map((row: { route: string }) => row.route), ['/users/:user', '/health', '/users/:user'], 'user route patterns first');
  fs.writeFileSync(config, JSON.stringify({ output: { analytics: { worker_threads: 'many' } } }));
  const bad = await run(process.execPath, [BIN, 'replay', file, '--summary', '--config', config]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, `config ${config}: output.analytics.worker_threads: "many" must be an integer`);
});

t.test('usage errors exit 2 with the reason', async (t) => {
  const cases: [string[], string][] = [
    [['replay', file, '--summary', '--window', '7x'], '--window "7x": expected a duration such as 5m or 1h'],
    [['replay', file, '--summary', '--window', '2d'], '--window 2d: is beyond the retention of 1d'],
    [['replay', file, '--summary', '--top', '0'], '--top "0": expected a positive integer'],
    [['replay', file, '--summary', '--port', '80'], '--port does not apply to --summary'],
    [['replay', file, '--window', '5m'], '--window goes with replay --summary'],
    [['trace', '--summary'], '--summary goes with replay --summary'],
    [['trace', '--data-dir', '/tmp'], '--data-dir goes with run and demo'],
  ];
  for (const [args, message] of cases) {
    const r = await run(process.execPath, [BIN, ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, message);
  }
});
