import t from 'tap';
import { ExchangeFlags } from '../../src/capture/abi';
import { ExchangeCursor } from '../../src/capture/decoder';
import { BatchGroups, Enricher, type ExchangeGroup, type Identity } from '../../src/pipeline/exchange-event';
import { RouteCache } from '../../src/pipeline/route-cache';
import { encodeExchange, type RecordSpec } from '../helpers/records';

const enricher = (maxIdentities = 100) => new Enricher({ routes: new RouteCache([], [], 100), clockOffsetMs: 1_000, resolutionMs: 10_000, maxIdentities });

function identities(specs: RecordSpec[], maxIdentities = 100): Identity[] {
  const e = enricher(maxIdentities);
  const cursor = new ExchangeCursor(Buffer.concat(specs.map(encodeExchange)));
  const out: Identity[] = [];
  while (cursor.next()) out.push(e.identityOf(cursor));
  return out;
}

t.test('identity: service, side, port, method, route, status class, error type, abort reason', async (t) => {
  const A = ExchangeFlags.aborted;
  const ids = identities([
    { comm: 'nginx', localPort: 80, head: 'GET /users/1 HTTP/1.1\r\n', status: 200 },
    { comm: 'nginx', localPort: 80, head: 'GET /users/2 HTTP/1.1\r\n', status: 200 },
    { comm: 'nginx', localPort: 80, head: 'PUT /users/2 HTTP/1.1\r\n', status: 404 },
    { direction: 'client', comm: 'curl', peerPort: 8080, localPort: 51000, head: 'POST /jobs HTTP/1.1\r\n', status: 503 },
    { comm: 'api', localPort: 9000, head: 'GET /x HTTP/1.1\r\n', status: 0, flags: A | ExchangeFlags.reset },
    { comm: 'api', localPort: 9000, head: 'GET /x HTTP/1.1\r\n', status: 0, flags: A | ExchangeFlags.timeout },
    { comm: 'api', localPort: 9000, head: 'GET /x HTTP/1.1\r\n', status: 0, flags: A | ExchangeFlags.processExit },
    { comm: 'api', localPort: 9000, head: 'GET /x HTTP/1.1\r\n', status: 0, flags: A | ExchangeFlags.closed },
    { comm: 'api', localPort: 9000, head: 'BREW /x HTTP/1.1\r\n', status: 418 },
    { comm: 'api', localPort: 9000, head: 'GET /x HTTP/1.1\r\n', status: 200, flags: A | ExchangeFlags.closed },
    { direction: 'client', comm: 'curl', peerPort: 8080, localPort: 51001, head: 'GET /jobs HTTP/1.1\r\n', status: 404 },
  ]);
  const pick = (id: Identity) => {
    const { service, side, serverPort, method, route, statusCode, statusClass, errorType, abortReason } = id;
    return [service, side, serverPort, method, route, statusCode, statusClass, errorType, abortReason].join(' ');
  };
  t.same(ids.map(pick), [
    'nginx:80 server 80 GET /users/{id} 200 2xx  ',
    'nginx:80 server 80 GET /users/{id} 200 2xx  ',
    'nginx:80 server 80 PUT /users/{id} 404 4xx  ',
    'curl client 8080 POST /jobs 503 5xx 5xx ',
    'api:9000 server 9000 GET /x 0 none reset reset',
    'api:9000 server 9000 GET /x 0 none aborted timeout',
    'api:9000 server 9000 GET /x 0 none aborted process_exit',
    'api:9000 server 9000 GET /x 0 none aborted closed',
    'api:9000 server 9000 _OTHER /x 418 4xx  ',
    'api:9000 server 9000 GET /x 200 2xx aborted closed',
    'curl client 8080 GET /jobs 404 4xx 4xx ',
  ]);
  t.equal(ids[0], ids[1], 'the same identity object for the same labels');
  t.same([ids[0].pid, ids[0].processName], ['100', 'nginx']);
});

t.test('a batch groups exchanges by identity and bucket, keeping every value', async (t) => {
  const e = enricher();
  const specs: RecordSpec[] = [
    { head: 'GET /a HTTP/1.1\r\n', startNs: 5_000_000_000n, endNs: 5_250_000_000n, requestBytes: 10, responseBytes: 100 },
    { head: 'GET /b HTTP/1.1\r\n', startNs: 5_000_000_000n, endNs: 5_500_000_000n, requestBytes: 20, responseBytes: 200 },
    { head: 'GET /a HTTP/1.1\r\n', startNs: 6_000_000_000n, endNs: 6_125_000_000n, requestBytes: 30, responseBytes: 300 },
    { head: 'GET /a HTTP/1.1\r\n', startNs: 9_000_000_000n, endNs: 9_500_000_000n, requestBytes: 40, responseBytes: 400 },
  ];
  const groups = new BatchGroups();
  for (let round = 0; round < 2; round++) {
    groups.begin();
    const cursor = new ExchangeCursor(Buffer.concat(specs.map(encodeExchange)));
    while (cursor.next()) groups.add(e.identityOf(cursor), e.bucketOf(cursor), cursor.durationNs / 1e9, cursor.requestBytes, cursor.responseBytes);
    const view = (g: ExchangeGroup) => [g.identity.route, g.bucketMs, g.count, g.requestBytes, g.responseBytes, [...g.durationsSeconds.subarray(0, g.count)], [...g.responseSizes.subarray(0, g.count)]];
    t.same(groups.groups.slice(0, groups.count).map(view), [
      ['/a', 0, 2, 40, 400, [0.25, 0.125], [100, 300]],
      ['/b', 0, 1, 20, 200, [0.5], [200]],
      ['/a', 10_000, 1, 40, 400, [0.5], [400]],
    ], `round ${round}: end 5250 ms + offset 1000 ms → bucket 0; end 10500 ms → bucket 10000`);
  }
});

t.test('identities are bounded: past the cap the cache starts over and stays correct', async (t) => {
  const ids = identities(Array.from({ length: 50 }, (_, i) => ({ comm: `p${i}`, localPort: 80, head: `GET /r${i} HTTP/1.1\r\n` })), 10);
  t.same(ids.map((id) => id.service), Array.from({ length: 50 }, (_, i) => `p${i}:80`));
  t.same(ids.map((id) => id.route), Array.from({ length: 50 }, (_, i) => `/r${i}`));
});

t.test('scheme: the tls flag makes an https identity, apart from the same exchange in the clear', async (t) => {
  const T = ExchangeFlags.tls;
  const ids = identities([
    { comm: 'node', localPort: 8443, head: 'GET /a HTTP/1.1\r\n', status: 200 },
    { comm: 'node', localPort: 8443, head: 'GET /a HTTP/1.1\r\n', status: 200, flags: T },
    { comm: 'node', localPort: 8443, head: 'GET /a HTTP/1.1\r\n', status: 200 },
    { comm: 'node', localPort: 8443, head: 'GET /a HTTP/1.1\r\n', status: 200, flags: T },
    { comm: 'node', localPort: 8443, head: 'GET /a HTTP/1.1\r\n', status: 0, flags: T | ExchangeFlags.aborted | ExchangeFlags.reset },
    { direction: 'client', comm: 'curl', peerPort: 8443, localPort: 51000, head: 'GET /a HTTP/1.1\r\n', status: 200, flags: T },
  ]);
  t.same(
    ids.map((id) => `${id.side} ${id.statusCode} ${id.errorType} ${id.scheme}`),
    ['server 200  http', 'server 200  https', 'server 200  http', 'server 200  https', 'server 0 reset https', 'client 200  https'],
  );
  t.equal(ids[0], ids[2], 'found again in the clear');
  t.equal(ids[1], ids[3], 'found again over TLS');
  t.not(ids[0], ids[1], 'one identity per scheme');
});

t.test('scheme: identities found through the tree (the recent cache overwritten) keep their scheme', async (t) => {
  const e = enricher(10_000);
  const specs: RecordSpec[] = [];
  for (let i = 0; i < 2; i++) {
    for (let r = 0; r < 3000; r++) specs.push({ comm: 'node', localPort: 8443, head: `GET /r${r} HTTP/1.1\r\n`, status: 200, flags: r % 2 === 0 ? ExchangeFlags.tls : 0 });
  }
  const cursor = new ExchangeCursor(Buffer.concat(specs.map(encodeExchange)));
  const out: Identity[] = [];
  while (cursor.next()) out.push(e.identityOf(cursor));
  t.equal(new Set(out).size, 3000, 'one identity per route, made once');
  t.same([out[0].scheme, out[1].scheme, out[3000].scheme, out[3001].scheme], ['https', 'http', 'https', 'http']);
  t.ok(out.every((id, i) => id.scheme === (i % 2 === 0 ? 'https' : 'http') && id === out[i % 3000]), 'the second pass finds the first pass\'s identities, scheme and all');
});
