/**
 * Look-alike protocols (issue 8): bytes that begin like an HTTP request (a
 * method token and a space) but are not HTTP/1.x — Redis inline commands,
 * SMTP/FTP/SIP-like lines, binary payloads — produce no exchange on either
 * side, and the refusals are counted in kernel.notHttp. On the same capture a
 * genuine HTTP exchange is still captured exactly, so the test cannot pass by
 * capturing nothing. Every peer checks its replies itself (redis-server's
 * answers, the echo server's bytes).
 */
import t from 'tap';
import type { Exchange } from '../../src/capture/decoder';
import { describe as describeExchange, kernelSkipReason, nodeClient, nodeServer, Recorder, stopChild } from '../helpers/kernel';
import { echoServer, freePorts, lineClient, redisServer, type LineStep } from '../helpers/peers';

const skip = kernelSkipReason();

/** Deterministic bytes (a 32-bit LCG): the same payloads every run. */
function pseudoRandom(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** An exchange as one line, with bytes that are not printable escaped (the targets here may be binary). */
function show(e: Exchange): string {
  return JSON.stringify(describeExchange(e)).slice(1, -1);
}

function echo(...payloads: (string | Buffer)[]): LineStep[] {
  return payloads.map((p) => ({ send: p, expect: p }));
}

t.test('redis, line protocols and binary payloads: no exchange; genuine HTTP still exact', { skip }, async (t) => {
  const [redisPort, echoPort, httpPort] = await freePorts(3);
  const redis = await redisServer(redisPort);
  t.teardown(() => redis.stop());
  const echoes = await echoServer(echoPort);
  t.teardown(() => echoes.stop());
  const http = await nodeServer(httpPort);
  t.teardown(() => stopChild(http));

  const recorder = new Recorder({ ports: { allow: [redisPort, echoPort, httpPort] } });
  t.teardown(() => recorder.stop());
  const notHttp = () => recorder.capture.stats().kernel.notHttp;

  // Redis inline commands on one connection, replies checked by the client.
  // "GET foo" has a method token.
  let before = notHttp();
  const redisRun = await lineClient(redisPort, [
    [
      { send: 'PING\r\n', expect: '+PONG\r\n' },
      { send: 'SET foo bar\r\n', expect: '+OK\r\n' },
      { send: 'GET foo\r\n', expect: '$3\r\nbar\r\n' },
      { send: 'DEL foo\r\n', expect: ':1\r\n' },
    ],
    // Again on a fresh connection, starting with the look-alike.
    [
      { send: 'GET foo\r\n', expect: '$-1\r\n' },
      { send: 'SET foo baz\r\n', expect: '+OK\r\n' },
      { send: 'GET foo\r\n', expect: '$3\r\nbaz\r\n' },
    ],
  ]);
  t.equal(redisRun.connections, 2, 'redis answered every command');
  t.ok(notHttp() > before, `redis "GET foo" refused: notHttp ${before} -> ${notHttp()}`);

  // SMTP/FTP/SIP-like lines to an echo server: all on one connection, then
  // each as the first bytes of its own connection.
  const lines = ['HELO x\r\n', 'GET file.txt\r\n', 'PUT a b\r\n', 'OPTIONS sip:bob@example.com SIP/2.0\r\n', 'DELETE /x\r\n'];
  before = notHttp();
  await lineClient(echoPort, [echo(...lines), ...lines.map((l) => echo(l))]);
  t.ok(notHttp() > before, `line protocols refused: notHttp ${before} -> ${notHttp()}`);

  // Binary payloads that open with a method token, with line feeds inside.
  const post = Buffer.concat([Buffer.from('POST '), Buffer.from([0, 1, 2]), pseudoRandom(200, 7)]);
  post[40] = 0x0a;
  post[120] = 0x0a;
  const get = Buffer.concat([Buffer.from('GET '), Buffer.from([0xff, 0xfe, 0x0a]), pseudoRandom(100, 11)]);
  const put = Buffer.concat([Buffer.from('PUT '), pseudoRandom(64, 13), Buffer.from('\r\n\r\n'), pseudoRandom(64, 17)]);
  before = notHttp();
  await lineClient(echoPort, [echo(post), echo(get), echo(put), echo(post, get, put)]);
  t.ok(notHttp() > before, `binary payloads refused: notHttp ${before} -> ${notHttp()}`);

  // Everything above has ended (each client waited for its replies and closed).
  const lookAlike = recorder.exchanges.slice();
  t.equal(lookAlike.length, 0, `no exchange for any look-alike: ${lookAlike.map(show).join(' | ')}`);
  t.equal(recorder.capture.stats().kernel.lostResponseNoRequest, 0, 'no response without request');

  // Genuine HTTP on the same capture: exact on both sides.
  const results = await nodeClient(httpPort, true, [
    { method: 'GET', path: '/hello' },
    { method: 'POST', path: '/echo', body: 'x'.repeat(300) },
  ]);
  await recorder.waitForCount(4);
  const genuine = recorder.exchanges.slice(lookAlike.length);
  for (const direction of ['server', 'client'] as const) {
    const side = genuine.filter((e) => e.direction === direction);
    t.same(
      side.map((e) => [e.method, e.path, e.status, e.requestBytes, e.responseBytes, e.aborted]),
      [
        ['GET', '/hello', results[0].status, results[0].written, results[0].read, false],
        ['POST', '/echo', results[1].status, results[1].written, results[1].read, false],
      ],
      `${direction}: the genuine exchanges, exact`,
    );
    t.ok(side.every((e) => e.localPort === httpPort || e.peerPort === httpPort), `${direction}: on the HTTP port`);
  }
});
