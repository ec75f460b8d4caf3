import t from 'tap';
import { ExchangeFlags } from '../../src/capture/abi';
import { decodeExchanges } from '../../src/capture/decoder';
import { formatDuration, formatJson, formatLine, matches, statusClass } from '../../src/cli/exchange-line';
import { encodeExchange } from '../helpers/records';

const at = new Date(2026, 10, 23, 14, 5, 9, 7).getTime();

t.test('a line has time, pid/comm, direction, peer, method, target, status, latency, bytes', async (t) => {
  const [e] = decodeExchanges(encodeExchange({ tgid: 311, comm: 'nginx', peerPort: 50123, status: 200, startNs: 0n, endNs: 1_500_000n, requestBytes: 78, responseBytes: 850 }));
  t.equal(formatLine(e, at), '14:05:09.007 311/nginx server 127.0.0.1:50123 GET / 200 1.50ms 78B/850B');
});

t.test('aborted exchanges say why', async (t) => {
  const [e] = decodeExchanges(encodeExchange({ flags: ExchangeFlags.aborted | ExchangeFlags.reset, status: 0 }));
  t.match(formatLine(e, at), / ABORTED\(reset\) /);
  t.equal(statusClass(e), 'aborted');
});

t.test('captured bytes cannot reach the terminal raw', async (t) => {
  const [e] = decodeExchanges(encodeExchange({ head: 'GET /\x1b[2J\x07evil\\x HTTP/1.1\r\n\r\n', comm: 'a\x1bb' }));
  const line = formatLine(e, at);
  t.notMatch(line, /[\x00-\x1f\x7f]/);
  t.match(line, /\/\\x1b\[2J\\x07evil\\\\x /);
  t.match(line, /a\\x1bb/);
});

t.test('trace --json: captured control characters (C0, DEL, C1) escaped, never raw', async (t) => {
  const [e] = decodeExchanges(encodeExchange({ head: 'GET /a\x1b[31m\x07\x00\x9b2J\x7f HTTP/1.1\r\nHost: h\x9b\r\n\r\n', comm: 'c\x9bd\x1b' }));
  const text = formatJson(e, at);
  t.notMatch(text, /[\x00-\x1f\x7f-\x9f]/, 'no raw control byte in the line');
  t.notMatch(text, /\\u00[0189][0-9a-f]/i, 'nor a JSON \\u escape that decodes to one');
  const parsed = JSON.parse(text);
  t.equal(parsed.target, '/a\\x1b[31m\\x07\\x00\\x9b2J\\x7f');
  t.equal(parsed.comm, 'c\\x9bd\\x1b');
});

t.test('JSON lines carry bigints as strings', async (t) => {
  const [e] = decodeExchanges(encodeExchange({ cgroupId: 2n ** 63n, head: 'GET /users/42?x=1 HTTP/1.1\r\n\r\n' }));
  const parsed = JSON.parse(formatJson(e, at));
  t.equal(parsed.route, '/users/{id}');
  t.equal(parsed.path, '/users/42');
  t.equal(parsed.cgroupId, '9223372036854775808');
  t.equal(parsed.time, new Date(at).toISOString());
  t.equal(parsed.status, 200);
});

t.test('durations', async (t) => {
  t.equal(formatDuration(999), '1µs');
  t.equal(formatDuration(2_345_678), '2.35ms');
  t.equal(formatDuration(52_100_000), '52.1ms');
  t.equal(formatDuration(3_200_000_000), '3.20s');
});

t.test('filters by comm and status class', async (t) => {
  const [ok] = decodeExchanges(encodeExchange({ comm: 'nginx', status: 204 }));
  const [bad] = decodeExchanges(encodeExchange({ comm: 'node', status: 503 }));
  t.equal(matches(ok, { comms: ['nginx'] }), true);
  t.equal(matches(bad, { comms: ['nginx'] }), false);
  t.equal(matches(bad, { statusClasses: ['5xx'] }), true);
  t.equal(matches(ok, { statusClasses: ['4xx', '5xx'] }), false);
  t.equal(matches(ok, {}), true);
});
