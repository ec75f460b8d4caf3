/**
 * HTTPS through the TLS uprobes (issue 15), Node's side: its `https` server
 * (OpenSSL bundled in the `node` executable, memory BIOs: the socket is read
 * and written outside SSL_read/SSL_write) with curl (libssl.so.3, a socket-
 * like BIO) and with Node's own https client; pipelined requests in one TLS
 * write; a `node` executable the agent has never seen, started after it,
 * picked up and then detached once it exits. Every exchange is flagged tls and
 * has the numbers a plaintext one would have: counts, methods, paths,
 * statuses, request and response bytes as the peers counted them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import type { Exchange } from '../../src/capture/decoder';
import { wholeResponses, splitResponses } from '../helpers/http-wire';
import { curl } from '../helpers/curl';
import { freePort, kernelSkipReason, Recorder, run, sleep, startChild, stopChild, until, waitForPort } from '../helpers/kernel';
import { request } from '../helpers/raw-client';

const skip = kernelSkipReason();

const SERVER = `'use strict';
const https = require('node:https');
const http = require('node:http');
const fs = require('node:fs');
// https on port; with plainPort, the same handler in the clear there too.
const [port, dir, plainPort] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const options = { key: fs.readFileSync(dir + '/key.pem'), cert: fs.readFileSync(dir + '/cert.pem') };
const handler = (req, res) => {
  let bytes = 0;
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => {
    const p = req.url.split('?')[0];
    const body = p === '/big' ? 'b'.repeat(100000) : p === '/echo' ? JSON.stringify({ bytes }) : p === '/missing' ? 'missing' : 'hello';
    res.writeHead(p === '/missing' ? 404 : 200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
};
https.createServer(options, handler).listen(port, '127.0.0.1');
if (plainPort) http.createServer(handler).listen(plainPort, '127.0.0.1');
`;

// Requests one after another on one keep-alive connection; prints [status, body bytes] per request.
const CLIENT = `'use strict';
const https = require('node:https');
const port = Number(process.argv[2]);
const plan = JSON.parse(process.argv[3]);
const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
(async () => {
  const out = [];
  for (const { method, path, body } of plan) {
    out.push(await new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, method, path, agent, rejectUnauthorized: false }, (res) => {
        let n = 0;
        res.on('data', (d) => (n += d.length));
        res.on('end', () => resolve([res.statusCode, n]));
      });
      req.on('error', reject);
      req.end(body);
    }));
  }
  agent.destroy();
  console.log(JSON.stringify(out));
})();
`;

interface Fixture {
  dir: string;
  port: number;
  /** The same server in the clear. */
  plainPort: number;
}

/** A temporary directory with a self-signed certificate and the scripts; a free port. */
async function fixture(t: Test): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-node-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost']);
  if (r.code !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  fs.writeFileSync(path.join(dir, 'server.js'), SERVER);
  fs.writeFileSync(path.join(dir, 'client.js'), CLIENT);
  return { dir, port: await freePort(), plainPort: await freePort() };
}

/** A capture of the port, and a Node https server on it (run by `node`, or another executable). */
async function tracedHttpsServer(t: Test, f: Fixture, node = process.execPath): Promise<{ recorder: Recorder; pid: number }> {
  const recorder = new Recorder({ ports: { allow: [f.port, f.plainPort] } });
  const server = startChild(node, [path.join(f.dir, 'server.js'), String(f.port), f.dir, String(f.plainPort)]);
  t.teardown(async () => {
    await recorder.stop();
    await stopChild(server);
  });
  await waitForPort(f.port);
  return { recorder, pid: server.pid! };
}

/**
 * libssl.so.3 probed before a client that uses it starts: a process that
 * maps it is started (after the agent, so it is found through the kernel's
 * mmap notice) and kept until the test ends.
 */
async function libsslProbed(t: Test, recorder: Recorder): Promise<void> {
  const holder = startChild('/usr/bin/python3', ['-c', 'import ssl, time; time.sleep(600)']);
  t.teardown(() => stopChild(holder));
  await until('libssl.so.3 probed', async () => (recorder.capture.tls!.objects().some((o) => /\/libssl\.so\.3$/.test(o.path)) ? true : undefined), 10_000);
}

function line(e: Exchange): string {
  return `${e.method} ${e.target} ${e.status} ${e.requestBytes}/${e.responseBytes}`;
}

function side(all: Exchange[], direction: 'server' | 'client'): Exchange[] {
  return all.filter((e) => e.direction === direction).sort((a, b) => (a.startMonotimeNs < b.startMonotimeNs ? -1 : a.startMonotimeNs > b.startMonotimeNs ? 1 : 0));
}

t.test('Node https server and curl -k: four requests on one keep-alive connection, both sides', { skip }, async (t) => {
  const f = await fixture(t);
  const { recorder, pid } = await tracedHttpsServer(t, f);
  await libsslProbed(t, recorder);

  const base = `https://127.0.0.1:${f.port}`;
  const targets = ['/hello', '/missing', '/big', '/hello?again=1'];
  const transfers = await curl(targets.map((p) => base + p));
  t.same(transfers.map((x) => x.status), [200, 404, 200, 200], 'curl got the statuses');

  const all = await recorder.waitForCount(8);
  t.equal(all.length, 8, 'four exchanges on each side');
  const expected = targets.map((p, i) => `GET ${p} ${transfers[i].status} ${transfers[i].request}/${transfers[i].response}`);
  const server = side(all, 'server');
  const client = side(all, 'client');
  t.same(server.map(line), expected, 'server side: methods, targets, statuses, bytes as curl counted them');
  t.same(client.map(line), expected, 'client side: the same');
  t.ok(all.every((e) => e.flags.includes('tls') && !e.aborted), 'all flagged tls, none aborted');
  t.same(server.map((e) => e.flags.includes('newConnection')), [true, false, false, false], 'server: one connection');
  t.same(client.map((e) => e.flags.includes('newConnection')), [true, false, false, false], 'client: one connection');
  t.ok(server.every((e) => e.tgid === pid && e.comm === 'node' && e.localPort === f.port), 'server side: the server process, its port');
  t.ok(client.every((e) => e.comm === 'curl' && e.peerPort === f.port && e.localPort === server[0].peerPort), 'client side: curl, the same 4-tuple mirrored');

  // The same server in the clear: the same process and cgroup, the same numbers but the flag.
  recorder.exchanges.length = 0;
  const [plain] = await curl([`http://127.0.0.1:${f.plainPort}/hello`]);
  const clear = await recorder.waitForCount(2);
  const clearServer = side(clear, 'server')[0];
  t.same(clear.map((e) => `${e.direction} ${e.flags.includes('tls')}`).sort(), ['client false', 'server false'], 'in the clear: not flagged tls');
  t.same([clearServer.tgid, clearServer.pid, clearServer.cgroupId, clearServer.comm], [server[0].tgid, server[0].pid, server[0].cgroupId, server[0].comm], 'the same process, thread and cgroup as over TLS');
  t.equal(line(clearServer), `GET /hello 200 ${plain.request}/${plain.response}`, 'its numbers, as curl counted them');
  t.equal(line(clearServer), line(server[0]).replace(`${transfers[0].request}/`, `${plain.request}/`), 'over TLS: the same exchange (curl sent another Host port)');
  t.equal(recorder.capture.stats().lost.total, 0, 'nothing lost');
});

t.test("Node's https client against the Node https server: keep-alive, a POST body, both sides agree", { skip }, async (t) => {
  const f = await fixture(t);
  const { recorder } = await tracedHttpsServer(t, f);
  const plan = [
    { method: 'GET', path: '/hello' },
    { method: 'POST', path: '/echo', body: 'x'.repeat(5000) },
    { method: 'GET', path: '/missing' },
  ];
  const r = await run(process.execPath, [path.join(f.dir, 'client.js'), String(f.port), JSON.stringify(plan)]);
  t.equal(r.code, 0, `client ran: ${r.stderr}`);
  t.same(JSON.parse(r.stdout), [[200, 5], [200, 14], [404, 7]], 'the client got statuses and bodies');

  const all = await recorder.waitForCount(6);
  t.equal(all.length, 6, 'three exchanges on each side');
  const server = side(all, 'server');
  const client = side(all, 'client');
  t.same(server.map((e) => `${e.method} ${e.path} ${e.status}`), ['GET /hello 200', 'POST /echo 200', 'GET /missing 404'], 'server: methods, paths, statuses');
  t.same(client.map(line), server.map(line), 'client side: the same exchanges, the same bytes');
  // What Node's client and server put on the wire (a Date value is 29 characters).
  const sent = plan.map((p) => `${p.method} ${p.path} HTTP/1.1\r\nHost: 127.0.0.1:${f.port}\r\nConnection: keep-alive\r\n${p.body ? `Content-Length: ${p.body.length}\r\n` : ''}\r\n${p.body ?? ''}`.length);
  const answered = [['200 OK', 5], ['200 OK', 14], ['404 Not Found', 7]].map(
    ([status, body]) => `HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\ncontent-length: ${body}\r\nDate: ${'d'.repeat(29)}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n`.length + Number(body),
  );
  t.same(server.map((e) => [e.requestBytes, e.responseBytes]), sent.map((n, i) => [n, answered[i]]), 'request and response bytes, exactly');
  t.ok(all.every((e) => e.flags.includes('tls') && !e.aborted && e.comm === 'node'), 'all flagged tls, none aborted');
  t.same(client.map((e) => e.flags.includes('newConnection')), [true, false, false], 'client: one connection');
  t.equal(recorder.capture.stats().lost.total, 0, 'nothing lost');
});

t.test('pipelined requests over TLS: three in one write from the test process, two from openssl s_client', { skip }, async (t) => {
  const f = await fixture(t);
  const { recorder } = await tracedHttpsServer(t, f);
  await libsslProbed(t, recorder);

  // The test process is never traced: only the server side of this one.
  const reqs = [request('GET', '/hello?i=0'), request('GET', '/missing?i=1'), request('POST', '/echo?i=2', { 'Content-Length': 3 }, 'abc')];
  const socket = tls.connect({ host: '127.0.0.1', port: f.port, rejectUnauthorized: false });
  let received = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.write(reqs.join(''));
  const responses = await wholeResponses(() => received, 3);
  socket.destroy();

  // s_client writes what it reads from stdin: both requests arrive in one read.
  const twoRequests = request('GET', '/hello?s=1') + request('GET', '/hello?s=2');
  const sClient = spawn('openssl', ['s_client', '-quiet', '-connect', `127.0.0.1:${f.port}`], { stdio: ['pipe', 'pipe', 'ignore'] });
  let sReceived = Buffer.alloc(0);
  sClient.stdout.on('data', (d: Buffer) => (sReceived = Buffer.concat([sReceived, d])));
  sClient.stdin.write(twoRequests);
  const sResponses = await wholeResponses(() => sReceived, 2);
  sClient.kill();

  const all = await recorder.waitForCount(3 + 2 + 2);
  const server = side(all, 'server');
  t.equal(server.length, 5, 'five exchanges on the server side');
  t.same(
    server.slice(0, 3).map(line),
    reqs.map((r, i) => `${r.split(' ')[0]} ${r.split(' ')[1]} ${responses[i].status} ${r.length}/${responses[i].bytes}`),
    'the test client: in order, statuses, each request and response its own bytes',
  );
  t.same(server.slice(0, 3).map((e) => e.flags.includes('pipelined')), [false, true, true], 'pipelined after the first');
  const sExpected = ['/hello?s=1', '/hello?s=2'].map((p, i) => `GET ${p} ${sResponses[i].status} ${twoRequests.length / 2}/${sResponses[i].bytes}`);
  t.same(server.slice(3).map(line), sExpected, 's_client, server side');
  t.same(side(all, 'client').map(line), sExpected, 's_client, its own side (libssl.so.3)');
  t.same(side(all, 'client').map((e) => e.flags.includes('pipelined')), [false, true], 's_client: the second pipelined');
  t.ok(all.every((e) => e.flags.includes('tls') && !e.aborted), 'all flagged tls, none aborted');
  t.same(splitResponses(sReceived).length, 2, 's_client got two whole responses');
});

t.test('a node executable started after the agent is probed, detached once no process maps it, probed again when it runs again', { skip }, async (t) => {
  const f = await fixture(t);
  // A copy is another file (inode) the agent has not seen.
  const copy = path.join(f.dir, 'node-copy');
  fs.copyFileSync(process.execPath, copy);
  fs.chmodSync(copy, 0o755);
  // No periodic rescan during the test (it would attach the copy too): only the kernel's notice can.
  const recorder = new Recorder({ ports: { allow: [f.port] }, tlsRescanIntervalMs: 3_600_000 });
  t.teardown(() => recorder.stop());
  const probes = recorder.capture.tls!;
  t.notOk(probes.objects().some((o) => o.path === copy), 'not probed before it runs');

  const server = startChild(copy, [path.join(f.dir, 'server.js'), String(f.port), f.dir]);
  await waitForPort(f.port);
  // 20 s: the notice comes within 100 ms, then the ~100 MB executable's symbols are read, slow on a loaded machine.
  await until('the copy probed', async () => (probes.objects().some((o) => o.path === copy) ? true : undefined), 20_000);
  t.same(probes.objects().find((o) => o.path === copy)?.functions.sort(), ['SSL_do_handshake', 'SSL_free', 'SSL_read', 'SSL_read_ex', 'SSL_write', 'SSL_write_ex'], 'all six functions');

  const plan = [{ method: 'GET', path: '/hello' }, { method: 'GET', path: '/missing' }];
  const r = await run(process.execPath, [path.join(f.dir, 'client.js'), String(f.port), JSON.stringify(plan)]);
  t.equal(r.code, 0, `client ran: ${r.stderr}`);
  const all = await recorder.waitForCount(4);
  t.same(side(all, 'server').map((e) => `${e.comm} ${e.method} ${e.path} ${e.status} ${e.flags.includes('tls')}`), ['node-copy GET /hello 200 true', 'node-copy GET /missing 404 true'], 'its exchanges, flagged tls');

  await stopChild(server);
  await sleep(100);
  probes.rescan();
  t.notOk(probes.objects().some((o) => o.path === copy), 'detached after it exited');
  t.ok(probes.objects().some((o) => o.path === fs.realpathSync(process.execPath)), 'the node still running stays probed');

  // Started again: reported by the kernel again (no periodic rescan runs in this test).
  const again = startChild(copy, [path.join(f.dir, 'server.js'), String(f.port), f.dir]);
  t.teardown(() => stopChild(again));
  await until('the copy probed again', async () => (probes.objects().some((o) => o.path === copy) ? true : undefined), 20_000);
  t.pass('probed again when it ran again');
});
