/**
 * HTTP/1.x framing in the kernel: pipelined requests kept in order, requests
 * and responses split over many syscalls, chunked bodies both ways, IPv6.
 */
import t from 'tap';
import { wholeResponses } from '../helpers/http-wire';
import { kernelSkipReason, nodeClient, tracedServer } from '../helpers/kernel';
import { RawClient, request } from '../helpers/raw-client';

const skip = kernelSkipReason();


t.test('four pipelined requests in one write: four exchanges, in order', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t);
  const reqs = [request('GET', '/hello'), request('POST', '/echo', { 'Content-Length': 5 }, 'hello'), request('GET', '/missing'), request('GET', '/fail')];
  const client = await RawClient.connect(port);
  await client.send([reqs.join('')]);
  await client.waitForResponses(4);
  const all = await recorder.waitForCount(4);
  client.close();
  t.same(
    all.map((e) => `${e.method} ${e.path} ${e.status}`),
    ['GET /hello 200', 'POST /echo 200', 'GET /missing 404', 'GET /fail 500'],
  );
  t.same(all.map((e) => e.requestBytes), reqs.map((r) => r.length), 'each request its own bytes');
  t.same(all.map((e) => e.flags), [['newConnection'], ['pipelined'], ['pipelined'], ['pipelined']]);
  t.equal(all.reduce((a, e) => a + e.responseBytes, 0), client.received.length, 'response bytes add up to what was received');
  t.equal(recorder.capture.stats().lost.total, 0);
});

t.test('a request and its body split over many writes, a response over many writes', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t);
  const body = 'b'.repeat(3000);
  const head = request('POST', '/echo', { 'Content-Length': body.length });
  const pieces = [head.slice(0, 7), head.slice(7, 30), head.slice(30), ...Array.from({ length: 30 }, (_, i) => body.slice(i * 100, i * 100 + 100))];
  const client = await RawClient.connect(port);
  const sent = await client.send(pieces, 2);
  await client.waitForResponses(1);
  const firstResponse = client.received.length;
  await client.send([request('GET', '/split')]);
  await client.waitForBytes(firstResponse + 4000 + 100);
  const all = await recorder.waitForCount(2);
  client.close();
  t.same(all.map((e) => `${e.method} ${e.path} ${e.status}`), ['POST /echo 200', 'GET /split 200']);
  t.equal(all[0].requestBytes, sent, 'request bytes: head and body over 33 writes');
  t.equal(all[0].responseBytes, firstResponse);
  t.equal(all[1].responseBytes, client.received.length - firstResponse, 'response bytes: headers and 40 body writes');
  t.ok(all[1].durationNs > 40e6, 'the split response ends with its last write');

  // The client side of the same: node-client reads the split response in many reads.
  const [split, echo] = await nodeClient(port, true, [
    { method: 'GET', path: '/split' },
    { method: 'POST', path: '/echo', body },
  ]);
  await recorder.waitForCount(6);
  const clientSide = recorder.exchanges.filter((e) => e.direction === 'client');
  t.same(clientSide.map((e) => [e.path, e.requestBytes, e.responseBytes]), [
    ['/split', split.written, split.read],
    ['/echo', echo.written, echo.read],
  ]);
});

t.test('chunked bodies: a chunked response, and a chunked request followed by another request', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t);
  const client = await RawClient.connect(port);
  await client.send([request('GET', '/chunked')]);
  await wholeResponses(() => client.received, 1); // the chunks come in separate writes: up to the last one, "0\r\n\r\n"
  const chunkedResponse = client.received.length;
  t.match(client.received.toString('latin1'), /first;\r\n.*second;\r\n.*third\r\n0\r\n\r\n$/s);

  const chunkedRequest = [request('POST', '/echo', { 'Transfer-Encoding': 'chunked' }), '5\r\nhello\r\n', '6;ext=1\r\n world\r\n', '0\r\n', 'Trailer: x\r\n\r\n'];
  const sent = await client.send(chunkedRequest, 2);
  await client.waitForResponses(2); // else, on a loaded machine, GET /hello is rightly pipelined
  await client.send([request('GET', '/hello')]);
  await client.waitForResponses(3);
  const all = await recorder.waitForCount(3);
  client.close();
  t.same(all.map((e) => `${e.method} ${e.path} ${e.status} ${e.flags.join(',')}`), ['GET /chunked 200 chunked,newConnection', 'POST /echo 200 ', 'GET /hello 200 ']);
  t.equal(all[0].responseBytes, chunkedResponse);
  t.equal(all[1].requestBytes, sent, 'chunked request: every chunk, the last chunk and the trailer');
  t.match(client.received.toString('latin1'), /\{"bytes":11\}/, 'the server saw the whole chunked body');
  t.equal(recorder.capture.stats().lost.total, 0);
});

t.test('IPv6 loopback', { skip }, async (t) => {
  const { port, recorder } = await tracedServer(t, { host: '::1' });
  const results = await nodeClient(port, true, [
    { method: 'GET', path: '/hello' },
    { method: 'GET', path: '/missing' },
  ], '::1');
  const all = await recorder.waitForCount(4);
  t.same(results.map((r) => r.status), [200, 404]);
  for (const e of all) {
    t.equal(e.ipVersion, 6);
    t.equal(e.localAddress, '::1');
    t.equal(e.peerAddress, '::1');
  }
  t.same(all.filter((e) => e.direction === 'server').map((e) => `${e.path} ${e.status} ${e.localPort}`), [`/hello 200 ${port}`, `/missing 404 ${port}`]);
  t.same(all.filter((e) => e.direction === 'client').map((e) => `${e.path} ${e.status} ${e.peerPort}`), [`/hello 200 ${port}`, `/missing 404 ${port}`]);
});
