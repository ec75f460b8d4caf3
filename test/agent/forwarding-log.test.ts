/**
 * Forwarding failures in the log once per change (exporters/forwarder.ts):
 * a target that fails attempt after attempt is one warning, its recovery one
 * line more; a different failure is a new warning.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Forwarder } from '../../src/exporters/forwarder';
import { createLogger } from '../../src/log/logger';

t.test('503, 503, 503 (each with another body), then accepted: one warning, one recovery', async (t) => {
  const script = [503, 503, 503];
  let attempts = 0;
  const server = http.createServer((req, res) => {
    req.resume().on('end', () => {
      attempts++;
      const status = script.shift() ?? 204;
      res.writeHead(status).end(status === 204 ? '' : `overloaded, request ${attempts}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
  const lines: { level: string; msg: string; target?: string }[] = [];
  const log = createLogger({ level: 'info', format: 'json' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const f = new Forwarder({
    config: { intervalMs: 3_600_000, externalLabels: {}, targets: [{ name: 'rw', kind: 'remote_write', url, headers: {}, timeoutMs: 2000, queueBytes: 1 << 20, batchSamples: 2000 }] },
    dataDir: t.testdir({}),
    collect: (nowMs) => ({ timestampMs: nowMs, series: [{ name: 'requests_total', help: 'requests', type: 'counter', labels: { service: 'api:8080' }, value: 1, startMs: 0 }] }),
    resource: { 'host.name': 'node-1', 'service.name': 'ebpf-http-tracer' },
    log,
  });
  t.teardown(() => f.shutdown());
  f.start();
  f.flush();
  const deadline = Date.now() + 20_000;
  while (f.stats().targets[0].samplesSent === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(attempts, 4, 'three failures, then accepted');
  t.same(
    lines.map((l) => [l.level, l.target, l.msg]),
    [
      ['warn', 'rw', 'forwarding to rw failing: overloaded, request 1 (retrying)'],
      ['info', 'rw', 'forwarding to rw works again'],
    ],
  );
});
