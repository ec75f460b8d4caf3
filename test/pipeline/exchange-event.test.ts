import t from 'tap';
import { ExchangeFlags } from '../../src/capture/abi';
import { ExchangeCursor } from '../../src/capture/decoder';
import { RouteTemplater } from '../../src/analytics/route';
import { Enricher, type ExchangeEvent } from '../../src/pipeline/exchange-event';
import { RouteCache } from '../../src/pipeline/route-cache';
import { encodeExchange, type RecordSpec } from '../helpers/records';

function enrich(specs: RecordSpec[], maxIdentities = 100): ExchangeEvent[] {
  const enricher = new Enricher({ routes: new RouteCache(new RouteTemplater(), 100), clockOffsetMs: 1_000, resolutionMs: 10_000, maxIdentities });
  const cursor = new ExchangeCursor(Buffer.concat(specs.map(encodeExchange)));
  const out: ExchangeEvent[] = [];
  while (cursor.next()) {
    const e = {} as ExchangeEvent;
    enricher.fill(cursor, e);
    out.push(e);
  }
  return out;
}

t.test('identity: service, side, port, method, route, status class, error type, abort reason', async (t) => {
  const A = ExchangeFlags.aborted;
  const events = enrich([
    { comm: 'nginx', localPort: 80, head: 'GET /users/1 HTTP/1.1\r\n', status: 200 },
    { comm: 'nginx', localPort: 80, head: 'GET /users/2 HTTP/1.1\r\n', status: 200 },
    { comm: 'nginx', localPort: 80, head: 'PUT /users/2 HTTP/1.1\r\n', status: 404 },
    { direction: 'client', comm: 'curl', peerPort: 8080, localPort: 51000, head: 'POST /jobs HTTP/1.1\r\n', status: 503 },
    { comm: 'api', localPort: 9000, head: 'GET /x HTTP/1.1\r\n', status: 0, flags: A | ExchangeFlags.reset },
    { comm: 'api', localPort: 9000, head: 'GET /x HTTP/1.1\r\n', status: 0, flags: A | ExchangeFlags.timeout },
    { comm: 'api', localPort: 9000, head: 'GET /x HTTP/1.1\r\n', status: 0, flags: A | ExchangeFlags.processExit },
    { comm: 'api', localPort: 9000, head: 'GET /x HTTP/1.1\r\n', status: 0, flags: A | ExchangeFlags.closed },
    { comm: 'api', localPort: 9000, head: 'BREW /x HTTP/1.1\r\n', status: 418 },
  ]);
  const pick = (e: ExchangeEvent) => {
    const { service, side, serverPort, method, route, statusCode, statusClass, errorType, abortReason } = e.identity;
    return [service, side, serverPort, method, route, statusCode, statusClass, errorType, abortReason].join(' ');
  };
  t.same(events.map(pick), [
    'nginx:80 server 80 GET /users/{id} 200 2xx  ',
    'nginx:80 server 80 GET /users/{id} 200 2xx  ',
    'nginx:80 server 80 PUT /users/{id} 404 4xx 4xx ',
    'curl client 8080 POST /jobs 503 5xx 5xx ',
    'api:9000 server 9000 GET /x 0 none reset reset',
    'api:9000 server 9000 GET /x 0 none aborted timeout',
    'api:9000 server 9000 GET /x 0 none aborted process_exit',
    'api:9000 server 9000 GET /x 0 none aborted closed',
    'api:9000 server 9000 _OTHER /x 418 4xx 4xx ',
  ]);
  t.equal(events[0].identity, events[1].identity, 'the same identity object for the same labels');
});

t.test('numbers: bucket by end time on the wall clock, duration, bytes, new connection', async (t) => {
  const [e] = enrich([{ startNs: 5_000_000_000n, endNs: 5_250_000_000n, requestBytes: 77, responseBytes: 1234, tgid: 42, comm: 'svc', flags: ExchangeFlags.newConnection }]);
  t.equal(e.bucketMs, 0, 'end 5250 ms + offset 1000 ms → bucket 0');
  t.equal(e.durationSeconds, 0.25);
  t.same([e.requestBytes, e.responseBytes, e.tgid, e.comm, e.newConnection], [77, 1234, 42, 'svc', true]);
  const [late] = enrich([{ endNs: 19_500_000_000n, startNs: 19_000_000_000n }]);
  t.equal(late.bucketMs, 20_000);
});

t.test('identities are bounded: past the cap the cache starts over and stays correct', async (t) => {
  const events = enrich(Array.from({ length: 50 }, (_, i) => ({ comm: `p${i}`, localPort: 80, head: `GET /r${i} HTTP/1.1\r\n` })), 10);
  t.same(events.map((e) => e.identity.service), Array.from({ length: 50 }, (_, i) => `p${i}:80`));
  t.same(events.map((e) => e.identity.route), Array.from({ length: 50 }, (_, i) => `/r${i}`));
});
