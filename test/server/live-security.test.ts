/**
 * Who may read the live stream, and what it shows (issue 9, defect 2):
 * a page from another origin is refused before the upgrade (403), a token
 * when configured is required (401) as a header or as the bearer.<token>
 * subprotocol (echoed back); captured targets leave with query values masked
 * and user patterns redacted, captured strings with control characters escaped.
 */
import t from 'tap';
import { batchOf, encodeExchange } from '../helpers/records';
import { connect, NOW, refusal, startLive } from '../helpers/live';

const TOKEN = 'a-long-enough-test-token-0123456789';
const SECURE = { token: TOKEN, allowedOrigins: ['https://Grafana.example:3000/'], redactPatterns: [] };

t.test('Origin: absent or same-origin allowed, an allowed origin allowed, any other page refused with 403', async (t) => {
  const { url, hub } = await startLive(t, {}, undefined, { allowedOrigins: ['https://grafana.example:3000'], redactPatterns: [] });
  const host = new URL(url).host;
  t.equal(await refusal(`${url}/ws/cli`), 'opened', 'no Origin: wscat, curl, scripts');
  t.equal(await refusal(`${url}/ws/page`, { origin: `http://${host}` }), 'opened', 'the agent’s own page');
  const port = new URL(url).port;
  t.equal(await refusal(`${url}/ws/page`, { origin: `http://localhost:${port}`, headers: { host: `localhost:${port}` } }), 'opened', 'by localhost too');
  t.equal(await refusal(`${url}/ws/analytics`, { origin: 'https://grafana.example:3000' }), 'opened', 'an allowed origin');
  const evil = await refusal(`${url}/ws/page`, { origin: 'http://evil.example' });
  t.match(evil, { status: 403, body: 'origin http://evil.example may not open a WebSocket here (same origin, or one of the allowed origins)' });
  t.match(await refusal(`${url}/ws/analytics`, { origin: 'http://evil.example' }), { status: 403 }, '/ws/analytics too');
  t.match(await refusal(`${url}/ws/page`, { origin: 'null' }), { status: 403 }, '"null" (sandboxed frames, file://)');
  t.match(await refusal(`${url}/ws/page`, { origin: `https://${host}.evil.example` }), { status: 403 }, 'a look-alike host');
  t.match(await refusal(`${url}/ws/page`, { origin: 'https://grafana.example:3001' }), { status: 403 }, 'an allowed host on another port');
  const rebound = await refusal(`${url}/ws/page`, { origin: `http://rebind.example:${port}`, headers: { host: `rebind.example:${port}` } });
  t.match(rebound, { status: 403 }, 'DNS rebinding: same origin by a name that resolves here is not the agent’s own page');
  t.equal(hub.stats().rejectedOrigin, 6);
  t.equal(hub.stats().connections, 0);
});

t.test('a token: required as Authorization or as the bearer.<token> subprotocol (echoed), else 401', async (t) => {
  const { url, hub } = await startLive(t, {}, undefined, SECURE);
  const none = await refusal(`${url}/ws/x`);
  t.match(none, { status: 401, body: 'this WebSocket needs the API token: Authorization: Bearer <token>, or the subprotocol bearer.<token>', headers: { 'www-authenticate': 'Bearer realm="http-tracer"' } });
  t.match(await refusal(`${url}/ws/x`, { headers: { authorization: 'Bearer wrong-token' } }), { status: 401 });
  t.match(await refusal(`${url}/ws/x`, { headers: { authorization: `Basic ${TOKEN}` } }), { status: 401 }, 'only the Bearer scheme');
  t.match(await refusal(`${url}/ws/x`, {}, ['bearer.wrong']), { status: 401 });
  t.match(await refusal(`${url}/ws/x`, {}, ['bearer.']), { status: 401 }, 'an empty token');
  t.match(await refusal(`${url}/ws/x`, { origin: 'http://evil.example', headers: { authorization: `Bearer ${TOKEN}` } }), { status: 403 }, 'the token does not lift the origin rule');
  t.equal(hub.stats().rejectedToken, 5);

  const byHeader = await connect(`${url}/ws/x`, undefined, { headers: { authorization: `Bearer ${TOKEN}` } });
  byHeader.send({ type: 'subscribe', query_id: 'q' });
  t.same(await byHeader.next('subscribed'), { type: 'subscribed', query_id: 'q' });
  t.equal(byHeader.ws.protocol, '', 'no subprotocol asked, none given');
  const byProtocol = await connect(`${url}/ws/browser`, ['json', `bearer.${TOKEN}`], { origin: 'https://grafana.example:3000' });
  t.equal(byProtocol.ws.protocol, `bearer.${TOKEN}`, 'the accepted subprotocol is echoed (a browser fails the connection otherwise)');
  t.match(await refusal(`${url}/ws/analytics`, {}, [`bearer.${TOKEN}`]), 'opened', '/ws/analytics with the token');
  byHeader.ws.close();
  byProtocol.ws.close();
});

t.test('new_event: query values masked, user patterns redacted, control characters escaped', async (t) => {
  const { url, hub } = await startLive(t, {}, undefined, { allowedOrigins: [], redactPatterns: ['/invite/[^/]+', '[^/]+@[^/]+'] });
  const c = await connect(`${url}/ws/tail`);
  c.send({ type: 'subscribe', query_id: 'tail', stream: 'exchanges' });
  await c.next('subscribed');
  const endNs = BigInt(NOW - 2000) * 1_000_000n;
  const exchange = (comm: string, target: string) => encodeExchange({ comm, localPort: 8080, head: `GET ${target} HTTP/1.1\r\n\r\n`, status: 200, startNs: endNs - 1_000_000n, endNs });
  hub.exchanges(
    batchOf(
      exchange('api', '/reset-password?email=ann@example.com&token=s3cr3t'),
      exchange('api', '/invite/XYZ123/accept?from=mail'),
      exchange('api', '/users/ann@example.com/profile'),
      exchange('evil\x1b[2J\x9b31m', '/a\x07b?c=\x9bd'),
    ),
    4,
    0,
  );
  const events = [await c.next('new_event'), await c.next('new_event'), await c.next('new_event'), await c.next('new_event')].map((m) => m.data as { process: string; target: string });
  t.same(
    events.map((e) => [e.process, e.target]),
    [
      ['api', '/reset-password?email=*&token=*'],
      ['api', '{redacted}/accept?from=*'],
      ['api', '/users/{redacted}/profile'],
      ['evil\\x1b[2J\\x9b31m', '/a\\x07b?c=*'],
    ],
  );
  c.ws.close();
});

t.test('new_metric: label values with control characters escaped', async (t) => {
  const { url, engine } = await startLive(t);
  const c = await connect(`${url}/ws/watcher`);
  const endNs = BigInt(NOW - 2000) * 1_000_000n;
  engine.ingest(batchOf(encodeExchange({ comm: 'api', localPort: 8080, head: 'GET /esc\x9bape HTTP/1.1\r\n\r\n', status: 200, startNs: endNs - 1_000_000n, endNs })), 1);
  await engine.sync();
  const m = await c.next('new_metric', 3000, (m) => (m.data as { name: string }).name === 'http_requests_total');
  t.match(m.data, { labels: { route: '/esc\\x9bape' } });
  c.ws.close();
});
