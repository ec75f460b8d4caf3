/**
 * What forwarding costs at N series: each flush collects the rollup, encodes
 * it for a remote-write and an OTLP target and appends it to their disk
 * queues, while both targets (loopback receivers that accept everything)
 * are sent what is queued. Reported: CPU per flush (main thread, user +
 * system), bytes on the wire per sample for each protocol, and the queue's
 * append throughput during the run.
 *
 *   npm run bench:forwarding -- [--series 10000] [--flushes 20]
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { collectRollup } from '../src/exporters/collect';
import { Forwarder } from '../src/exporters/forwarder';
import type { ForwardTarget } from '../src/exporters/forwarding-config';
import { engineWithSeries } from './fill-store';

const { values } = parseArgs({ options: { series: { type: 'string', default: '10000' }, flushes: { type: 'string', default: '20' } } });
const SERIES = Number(values.series);
const FLUSHES = Number(values.flushes);
const NOW = 1_800_000_000_000;

async function main(): Promise<void> {
  const engine = await engineWithSeries(SERIES, NOW);
  const wire = { remote_write: 0, otlp: 0 };
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      wire[req.url === '/v1/metrics' ? 'otlp' : 'remote_write'] += bytes;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const target = (name: string, kind: ForwardTarget['kind'], url: string): ForwardTarget => ({ name, kind, url, headers: {}, timeoutMs: 30_000, queueBytes: 1 << 30, batchSamples: 2000 });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-forwarding-'));
  const forwarder = new Forwarder({
    config: { intervalMs: 3_600_000, externalLabels: { node: 'bench', cluster: 'bench' }, targets: [target('rw', 'remote_write', `${base}/api/v1/write`), target('otlp', 'otlp', base)] },
    dataDir,
    collect: (now) => collectRollup(engine.store, now),
    resource: { 'host.name': 'bench', 'service.name': 'ebpf-http-tracer' },
  });
  forwarder.start();
  forwarder.flush(NOW); // warm up
  let cpuUs = 0;
  let wallMs = 0;
  for (let i = 1; i <= FLUSHES; i++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    forwarder.flush(NOW + i * 10_000);
    wallMs += performance.now() - start;
    const used = process.cpuUsage(cpu);
    cpuUs += used.user + used.system;
    await new Promise((r) => setTimeout(r, 50)); // let the senders drain between flushes
  }
  await new Promise((r) => setTimeout(r, 2000));
  const [rw, otlp] = forwarder.stats().targets;
  const queuedBytes = wire.remote_write + wire.otlp;
  console.log(`${engine.store.stats().series} store series; ${FLUSHES} flushes`);
  console.log(`per flush: ${(cpuUs / FLUSHES / 1000).toFixed(1)} ms of CPU (${(wallMs / FLUSHES).toFixed(1)} ms wall): collect, encode for both targets, append to both queues`);
  console.log(`remote-write: ${rw.samplesSent} samples sent, ${(wire.remote_write / rw.samplesSent).toFixed(2)} bytes per sample on the wire (snappy)`);
  console.log(`OTLP: ${otlp.samplesSent} data points sent, ${(wire.otlp / otlp.samplesSent).toFixed(2)} bytes per data point on the wire (uncompressed protobuf)`);
  console.log(`queued ${(queuedBytes / 2 ** 20).toFixed(1)} MiB in ${(wallMs / 1000).toFixed(2)} s of flushing (${(queuedBytes / 2 ** 20 / (wallMs / 1000)).toFixed(0)} MiB/s including the encoding)`);
  await forwarder.shutdown();
  server.close();
  await engine.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

void main();
