/**
 * The forwarder against a scripted loopback receiver: rollups go out in
 * order, one request at a time; a 500 is sent again (counted as retried), a
 * 400 is counted as failed and not sent again; a receiver that is down
 * leaves rollups on disk, and a new forwarder on the same data directory
 * sends them first; shutdown queues a last rollup.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { Forwarder } from '../../src/exporters/forwarder';
import type { ForwardingConfig } from '../../src/exporters/forwarding-config';
import { decodeOtlp } from '../../src/exporters/otlp/decode';
import { decodeWriteRequest } from '../../src/exporters/remote-write/encode';
import type { Rollup } from '../../src/exporters/rollup';

interface Receiver {
  url: string;
  /** The value of requests_total in each accepted body, in arrival order. */
  accepted: number[];
  attempts: number;
  /** Status codes for the next requests, in order; then 204. */
  script: number[];
  close(): Promise<void>;
}

async function receiver(t: Test): Promise<Receiver> {
  const r: Receiver = { url: '', accepted: [], attempts: 0, script: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.attempts++;
      const status = r.script.shift() ?? 204;
      if (status === 204) {
        const body = decodeWriteRequest(Buffer.concat(chunks));
        const series = body.timeseries.find((s) => s.labels.some((l) => l.name === '__name__' && l.value === 'requests_total'));
        r.accepted.push(series!.samples[0].value);
      }
      res.writeHead(status).end(status === 400 ? 'out of order sample' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
  r.close = () => new Promise((resolve) => server.close(() => resolve()));
  t.teardown(() => r.close());
  return r;
}

const rollupOf = (value: number, nowMs: number): Rollup => ({
  timestampMs: nowMs,
  series: [{ name: 'requests_total', help: 'requests', type: 'counter', labels: { service: 'api:8080' }, value, startMs: 0 }],
});

function config(url: string): ForwardingConfig {
  return {
    intervalMs: 3_600_000, // flushes by hand
    externalLabels: { node: 'node-1' },
    targets: [{ name: 'rw', kind: 'remote_write', url, headers: {}, timeoutMs: 2000, queueBytes: 1 << 20, batchSamples: 2000 }],
  };
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('in order; 500 retried, 400 failed once; counted in samples', async (t) => {
  const rx = await receiver(t);
  rx.script = [500, 400];
  let value = 0;
  const f = new Forwarder({ config: config(rx.url), dataDir: t.testdir({}), collect: (now) => rollupOf(++value, now), resource: { 'host.name': 'node-1', 'service.name': 'ebpf-http-tracer' } });
  t.teardown(() => f.shutdown());
  f.start();
  f.flush(); // value 1: 500, then 400 (dropped: sending it again cannot help)
  f.flush(); // value 2
  f.flush(); // value 3
  await until('two accepted', () => rx.accepted.length === 2);
  t.same(rx.accepted, [2, 3], 'in order; the refused one is not sent again');
  t.equal(rx.attempts, 4);
  const [s] = f.stats().targets;
  t.match(s, { name: 'rw', kind: 'remote_write', samplesSent: 2, samplesFailed: 1, samplesRetried: 1, samplesDropped: 0, queueRecords: 0, oldestSeconds: 0, lastError: 'out of order sample' });
  t.equal(s.failingSince, undefined, 'not failing any more');
  t.equal(s.url, rx.url);
});

t.test('a receiver that is down: rollups wait on disk; a new forwarder sends them first, in order', async (t) => {
  const rx = await receiver(t);
  const dataDir = t.testdir({});
  const deadUrl = rx.url.replace(/:\d+\//, ':9/'); // discard: nothing listens
  let value = 0;
  const collect = (now: number) => rollupOf(++value, now);
  const resource = { 'host.name': 'node-1', 'service.name': 'ebpf-http-tracer' };
  const down = new Forwarder({ config: config(deadUrl), dataDir, collect, resource });
  down.start();
  for (let i = 0; i < 5; i++) down.flush();
  await until('a failed attempt', () => down.stats().targets[0].lastError !== undefined);
  const s = down.stats().targets[0];
  t.match(s, { samplesSent: 0, queueRecords: 5 });
  t.ok(s.failingSince !== undefined && s.samplesRetried >= 1, 'failing, retried');
  await down.shutdown(); // queues a 6th rollup, cannot send it
  // Same queue, a receiver that answers.
  const up = new Forwarder({ config: config(rx.url), dataDir, collect, resource });
  t.teardown(() => up.shutdown());
  up.start();
  up.flush(); // the 7th
  await until('seven accepted', () => rx.accepted.length === 7);
  t.same(rx.accepted, [1, 2, 3, 4, 5, 6, 7], 'what waited goes first, in order; nothing twice');
  t.match(up.stats().targets[0], { samplesSent: 7, queueRecords: 0 });
});

t.test('a queue that fills while the receiver is down: the oldest rollups go, counted in samples; the newest are kept', async (t) => {
  const rx = await receiver(t);
  const dataDir = t.testdir({});
  const deadUrl = rx.url.replace(/:\d+\//, ':9/');
  let value = 0;
  const collect = (now: number) => rollupOf(++value, now);
  const resource = { 'host.name': 'node-1', 'service.name': 'ebpf-http-tracer' };
  const small = (url: string): ForwardingConfig => ({ ...config(url), targets: [{ ...config(url).targets[0], queueBytes: 4096 }] });
  const down = new Forwarder({ config: small(deadUrl), dataDir, collect, resource });
  down.start();
  for (let i = 0; i < 40; i++) down.flush();
  const s = down.stats().targets[0];
  t.ok(s.samplesDropped > 0, `oldest dropped: ${s.samplesDropped} samples`);
  t.ok(s.queueBytes <= 4096, `within the bound (${s.queueBytes} bytes)`);
  await down.shutdown();
  const up = new Forwarder({ config: small(rx.url), dataDir, collect, resource });
  t.teardown(() => up.shutdown());
  up.start();
  await until('the kept rollups', () => up.stats().targets[0].queueRecords === 0 && rx.accepted.length > 0);
  t.equal(rx.accepted.at(-1), 41, 'the newest kept (the 41st: the one shutdown queued)');
  t.same(rx.accepted, [...rx.accepted].sort((a, b) => a - b), 'in order');
  t.equal(rx.accepted.length + s.samplesDropped, 41, 'every rollup either dropped (counted) or delivered');
});

t.test('an OTLP target gets ExportMetricsServiceRequests the same protos decode', async (t) => {
  const bodies: Buffer[] = [];
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(`${req.url} ${req.headers['content-type']}`);
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let value = 0;
  const f = new Forwarder({
    config: { intervalMs: 3_600_000, externalLabels: { node: 'node-1', cluster: 'lab' }, targets: [{ name: 'otlp', kind: 'otlp', url, headers: {}, timeoutMs: 2000, queueBytes: 1 << 20, batchSamples: 2000 }] },
    dataDir: t.testdir({}),
    collect: (now) => rollupOf(++value, now),
    resource: { 'host.name': 'node-1', 'service.name': 'ebpf-http-tracer' },
  });
  t.teardown(() => f.shutdown());
  f.start();
  f.flush(1_800_000_000_000);
  await until('one request', () => bodies.length === 1);
  t.same(paths, ['/v1/metrics application/x-protobuf']);
  const request = decodeOtlp(bodies[0]);
  const rm = request.resource_metrics[0];
  const attributes = Object.fromEntries(rm.resource!.attributes.map((a) => [a.key, a.value?.string_value]));
  t.match(attributes, { 'host.name': 'node-1', 'service.name': 'ebpf-http-tracer', cluster: 'lab' });
  const metric = rm.scope_metrics[0].metrics[0];
  t.equal(metric.name, 'requests_total');
  t.equal(metric.sum!.data_points[0].as_double, 1);
  t.equal(metric.sum!.data_points[0].time_unix_nano, 1_800_000_000_000_000_000n);
  t.match(f.stats().targets[0], { kind: 'otlp', samplesSent: 1 });
});
