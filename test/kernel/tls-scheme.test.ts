/**
 * url_scheme end to end: a Node server answering the same handler over TLS
 * and in the clear, curl -k calling both; capture → engine → store keeps the
 * exchanges read through the TLS uprobes apart with scheme "https", and the
 * OpenTelemetry duration histograms carry url_scheme "https" and "http".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadAddon } from '../../src/capture/addon-load';
import { Capture } from '../../src/capture/capture';
import { wallMinusMonotonicNs } from '../../src/capture/clock';
import { exportedMetrics } from '../../src/exporters/naming';
import { Engine } from '../../src/pipeline/engine';
import { freePort, kernelSkipReason, run, sleep, startChild, stopChild, until, waitForPort } from '../helpers/kernel';

const SERVER = `'use strict';
const https = require('node:https');
const http = require('node:http');
const fs = require('node:fs');
const [port, plainPort, dir] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const handler = (req, res) => res.end('hello');
https.createServer({ key: fs.readFileSync(dir + '/key.pem'), cert: fs.readFileSync(dir + '/cert.pem') }, handler).listen(port, '127.0.0.1');
http.createServer(handler).listen(plainPort, '127.0.0.1');
`;

t.test('https and http exchanges of one server: two series apart by scheme, url_scheme https and http on /metrics', { skip: kernelSkipReason() }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-scheme-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost']);
  if (cert.code !== 0) throw new Error(`openssl req failed: ${cert.stderr}`);
  fs.writeFileSync(path.join(dir, 'server.js'), SERVER);
  const [port, plainPort] = [await freePort(), await freePort()];

  const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: Number(wallMinusMonotonicNs(loadAddon())) / 1e6 });
  const capture = Capture.start({ ports: { allow: [port, plainPort] } }, (batch, records) => engine.ingest(batch, records));
  const server = startChild(process.execPath, [path.join(dir, 'server.js'), String(port), String(plainPort), dir]);
  // libssl.so.3 (curl's) probed before curl runs: a process that maps it, started after the capture.
  const holder = startChild('/usr/bin/python3', ['-c', 'import ssl, time; time.sleep(600)']);
  t.teardown(async () => {
    await capture.stop();
    await engine.stop();
    await stopChild(holder);
    await stopChild(server);
  });
  await waitForPort(port);
  await waitForPort(plainPort);
  await until('libssl.so.3 probed', async () => (capture.tls!.objects().some((o) => /\/libssl\.so\.3$/.test(o.path)) ? true : undefined), 10_000);

  const curl = await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null',
    `https://127.0.0.1:${port}/hello`, `https://127.0.0.1:${port}/hello`, `https://127.0.0.1:${port}/hello`, `http://127.0.0.1:${plainPort}/hello`, `http://127.0.0.1:${plainPort}/hello`]);
  t.equal(curl.code, 0, `curl ran: ${curl.stderr}`);

  const counts = () => Object.fromEntries(engine.store.window({ metric: 'http_request_duration_seconds', by: ['side', 'server_port', 'scheme'] }, 60_000).map((r) => [Object.values(r.labels).join(' '), r.summary.value]));
  const expected = { [`server ${port} https`]: 3, [`client ${port} https`]: 3, [`server ${plainPort} http`]: 2, [`client ${plainPort} http`]: 2 };
  const deadline = Date.now() + 5000;
  for (;;) {
    await engine.sync();
    if (Object.values(counts()).reduce((n, v) => n + v, 0) >= 10 || Date.now() > deadline) break;
    await sleep(50);
  }
  t.same(counts(), expected, 'the store: by side, port and scheme');

  const metrics = exportedMetrics(engine.store.families);
  const exported = (name: string) => {
    const m = metrics.find((x) => x.name === name)!;
    return [...engine.store.seriesOf('http_request_duration_seconds')].filter((s) => m.accepts(s)).map((s) => `${m.labelsOf(s).server_port} ${m.labelsOf(s).url_scheme}`).sort();
  };
  const ends = [`${plainPort} http`, `${port} https`].sort();
  t.same(exported('http_server_request_duration_seconds'), ends, 'server histogram: url_scheme https over TLS, http in the clear');
  t.same(exported('http_client_request_duration_seconds'), ends, 'client histogram: the same');
  t.equal(capture.stats().lost.total, 0, 'nothing lost');
});
