/**
 * The golden /metrics, after node_exporter's end-to-end test: a fixed
 * capture file (written here, byte for byte the same each run, from encoded
 * exchanges: both sides, every status class, aborts with and without a
 * status, a reset, an unknown method, microsecond to second durations,
 * three frames over two minutes; and TCP events: connects and accepts, a
 * refused connect, retransmissions, resets, closes) is replayed through the engine on the
 * events' own clock, as `replay --summary` does (src/cli/summary.ts), and
 * /metrics must equal test/fixtures/metrics.golden.txt exactly: names, HELP
 * and TYPE lines, label names, order and escaping, bucket bounds, values.
 *
 * Whole metric families are left out of the comparison, because they change
 * from run to run without any change in the traffic:
 *   process_* (but process_events_total), nodejs_*   prom-client's defaults for
 *                                          this process: CPU, memory, file descriptors, event loop, GC
 *   http_tracer_build_info                 the package's version and the Node.js running the test
 *   http_tracer_scrape_duration_seconds    how long the previous scrape took
 *   http_tracer_processor_seconds_total    how long the processors took
 *
 * After a deliberate change to what /metrics serves:
 *   UPDATE_GOLDEN=1 npx tap test/exporters/golden.test.ts
 * rewrites the fixture; read its diff before committing it.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { engineReaders } from '../../src/agent/readers';
import { ExchangeFlags as F } from '../../src/capture/abi';
import { CaptureFileWriter, readCaptureFile } from '../../src/capture/capture-file';
import { ExchangeCursor } from '../../src/capture/decoder';
import { createExporter } from '../../src/exporters/prometheus';
import { Engine } from '../../src/pipeline/engine';
import { batchOf, encodeExchange, type RecordSpec } from '../helpers/records';
import { encodeTcpEvent, type TcpEventSpec } from '../helpers/tcp-records';

const GOLDEN = path.join(__dirname, '..', 'fixtures', 'metrics.golden.txt');
/** Families whose values are not the traffic's (see above). */
const UNSTABLE = /^((process_(?!events_total$)|nodejs_)\w+|http_tracer_build_info|http_tracer_scrape_duration_seconds|http_tracer_processor_seconds_total)$/;

/** The capture's clock: CLOCK_MONOTONIC of a machine up for an hour, whose wall clock reads 2027-01-15T08:00:00Z then. */
const MONO_T0_NS = 3_600_000_000_000n;
const WALL_MINUS_MONO_NS = 1_799_996_400_000_000_000n;

/** An exchange ending `atMs` after the capture's start, lasting `us` microseconds. */
const x = (atMs: number, us: number, spec: RecordSpec): Buffer => {
  const endNs = MONO_T0_NS + BigInt(atMs) * 1_000_000n;
  return encodeExchange({ tgid: 4242, pid: 4242, cgroupId: 7001n, ...spec, startNs: endNs - BigInt(Math.round(us * 1000)), endNs });
};
const nginx = (head: string, status: number, more: RecordSpec = {}): RecordSpec => ({ comm: 'nginx', localPort: 80, head: `${head} HTTP/1.1\r\nHost: shop\r\n\r\n`, status, responseBytes: 612, ...more });
const client = (comm: string, peerPort: number, head: string, status: number, more: RecordSpec = {}): RecordSpec => ({
  direction: 'client',
  comm,
  tgid: 5151,
  pid: 5151,
  cgroupId: 7002n,
  localPort: 41000,
  peerPort,
  head: `${head} HTTP/1.1\r\n\r\n`,
  status,
  responseBytes: 300,
  ...more,
});

/** A TCP event `atMs` after the capture's start: curl's connection to nginx (client side), or nginx's (server side). */
const tcp = (atMs: number, spec: TcpEventSpec): Buffer => {
  const side: Partial<TcpEventSpec> =
    spec.direction === 'server'
      ? { comm: 'nginx', tgid: 4242, pid: 4242, cgroupId: 7001n, localPort: 80, peerPort: 41000 }
      : { comm: 'curl', tgid: 5151, pid: 5151, cgroupId: 7002n, localPort: 41000, peerPort: 80 };
  return encodeTcpEvent({ ...side, ...spec, monotimeNs: MONO_T0_NS + BigInt(atMs) * 1_000_000n });
};

const FRAMES: Buffer[][] = [
  [
    x(100, 8, nginx('GET /users/1', 200, { flags: F.newConnection })),
    x(110, 45, nginx('GET /users/2', 200)),
    x(120, 180, nginx('GET /users/3', 200)),
    x(130, 3_000, nginx('GET /users/4', 200)),
    x(140, 60, nginx('GET /static/app.js', 200, { responseBytes: 48_000 })),
    x(150, 30, nginx('GET /missing', 404, { responseBytes: 150 })),
    tcp(155, { kind: 'connect', durationNs: 60_000n }),
    tcp(155, { kind: 'accept', direction: 'server', durationNs: 20_000n }),
    x(160, 350, client('curl', 80, 'GET /users/9', 200, { flags: F.newConnection })),
    x(170, 120, client('curl', 80, 'GET /missing', 404)),
    tcp(175, { kind: 'connectFailed', error: 111, peerPort: 5432 }),
    tcp(175, { kind: 'resetReceived', peerPort: 5432 }),
  ],
  [
    x(15_000, 12_000, nginx('POST /orders', 201)),
    x(15_010, 250_000, nginx('POST /orders', 503)),
    x(15_020, 1_500_000, nginx('POST /orders', 0, { flags: F.aborted | F.closed | F.noResponseHead, responseBytes: 0 })),
    x(15_030, 700, nginx('POST /orders', 200, { flags: F.aborted | F.reset, responseBytes: 100 })),
    x(15_040, 20, nginx('BREW /pot', 418, { responseBytes: 90 })),
    x(15_050, 20, { comm: 'node', tgid: 6000, pid: 6000, localPort: 8080, head: 'GET /health HTTP/1.1\r\n\r\n', status: 200, responseBytes: 70, flags: F.newConnection }),
    x(15_060, 25, { comm: 'node', tgid: 6000, pid: 6000, localPort: 8080, head: 'GET /health HTTP/1.1\r\n\r\n', status: 200, responseBytes: 70 }),
    tcp(15_070, { kind: 'retransmit', direction: 'server', segments: 2 }),
    tcp(15_080, { kind: 'resetSent', direction: 'server' }),
  ],
  [
    x(70_000, 40_000, client('node', 9200, 'GET /_search', 502, { tgid: 6000, pid: 6000, flags: F.newConnection })),
    x(70_010, 30_000_000, client('curl', 80, 'GET /slow', 0, { flags: F.aborted | F.timeout | F.noResponseHead, responseBytes: 0 })),
    x(70_020, 90, { comm: 'we\x1bird', localPort: 81, head: 'GET /a\x07b"c HTTP/1.1\r\n\r\n', status: 200, responseBytes: 10 }),
    x(70_030, 15, nginx('GET /users/5', 200)),
    tcp(70_030, { kind: 'close', durationNs: 69_875_000_000n, srttUs: 45, bytesAcked: 120, bytesReceived: 1500, segments: 0 }),
    tcp(70_030, { kind: 'close', direction: 'server', durationNs: 69_875_000_000n, srttUs: 38, bytesAcked: 1500, bytesReceived: 120, segments: 1 }),
  ],
];

/** /metrics without the families that are not the traffic's. */
function stable(text: string): string {
  return (
    text
      .trimEnd()
      .split('\n\n')
      .filter((block) => !UNSTABLE.test(/^# HELP (\S+)/.exec(block)![1]))
      .join('\n\n') + '\n'
  );
}

t.test('a fixed capture replayed through the engine gives exactly the golden /metrics', async (t) => {
  const file = path.join(t.testdir(), 'golden.htcap');
  const writer = new CaptureFileWriter(file, WALL_MINUS_MONO_NS);
  for (const frame of FRAMES) writer.write(batchOf(...frame), frame.length);
  writer.close();

  // As `replay --summary` (src/cli/summary.ts): the store's clock is the latest exchange's end.
  let lastMs = -Infinity;
  let engine: Engine | undefined;
  await readCaptureFile(file, async (batch, records, header) => {
    const offsetMs = Number(header.wallMinusMonotonicNs) / 1e6;
    engine ??= await Engine.start({ workerThreads: 1, publishIntervalMs: 60_000, clockOffsetMs: offsetMs, now: () => lastMs });
    const cursor = new ExchangeCursor(batch);
    while (cursor.next()) lastMs = Math.max(lastMs, cursor.endMonotimeMs + offsetMs);
    await engine.enqueue(batch, records);
  });
  t.teardown(() => engine!.stop());
  await engine!.sync();
  t.equal(new Date(lastMs).toISOString(), '2027-01-15T08:01:10.030Z', "the events' own clock");

  const text = stable(await createExporter(engineReaders(engine!)).scrape());
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.writeFileSync(GOLDEN, text);
    t.pass(`wrote ${path.relative(process.cwd(), GOLDEN)}`);
    return;
  }
  const golden = fs.readFileSync(GOLDEN, 'utf8');
  if (text !== golden) {
    // Say where, line by line, before the whole-text comparison.
    const [got, want] = [text.split('\n'), golden.split('\n')];
    const at = got.findIndex((line, i) => line !== want[i]);
    t.equal(got[at], want[at], `first difference at line ${at + 1} of ${path.basename(GOLDEN)} (UPDATE_GOLDEN=1 rewrites it after a deliberate change)`);
  }
  t.equal(text, golden, '/metrics, but for the families that are not the traffic\'s');
});
