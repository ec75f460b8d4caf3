/**
 * The WebSocket endpoints with real clients (ws): subscribe and receive
 * updates, unsubscribe, the analytics snapshot, live exchanges, every bad
 * message answered, the connection cap, the heartbeat, and a slow consumer
 * closed instead of buffered.
 */
import t from 'tap';
import { WebSocket } from 'ws';
import { connect, records, refusal, startLive as setup } from '../helpers/live';

t.test('subscribe: realtime_update every second until unsubscribed', async (t) => {
  const { url } = await setup(t);
  const c = await connect(`${url}/ws/client123`);
  c.send({ type: 'subscribe', query_id: 'query_123', window: '1m', service: 'api:8080' });
  t.same(await c.next('subscribed'), { type: 'subscribed', query_id: 'query_123' });
  const first = await c.next('realtime_update');
  t.equal(first.query_id, 'query_123');
  t.match((first.data as { totals: unknown }).totals, { requests: 10, errors: 2 });
  const second = await c.next('realtime_update', 5000);
  t.match(second, { query_id: 'query_123' }, 'and again a second later');
  c.send({ type: 'unsubscribe', query_id: 'query_123' });
  t.same(await c.next('unsubscribed'), { type: 'unsubscribed', query_id: 'query_123' });
  c.inbox.length = 0;
  await new Promise((r) => setTimeout(r, 1500));
  t.same(c.inbox.filter((m) => m.type === 'realtime_update'), [], 'no updates after unsubscribe');
  c.ws.close();
});

t.test('bad messages get an error, and the connection goes on', async (t) => {
  const { url } = await setup(t);
  const c = await connect(`${url}/ws/bad-client`);
  const cases: [unknown, string][] = [
    ['{"type": ', 'not JSON: '],
    [[1, 2], 'a message is a JSON object with a "type"'],
    [{ type: 'dance' }, 'type: "dance" is not subscribe or unsubscribe'],
    [{ type: 'subscribe' }, 'query_id: a string of 1 to 64 characters is needed'],
    [{ type: 'subscribe', query_id: 'q', window: 'forever' }, 'window: "forever" is not a duration such as 1m or 1h'],
    [{ type: 'subscribe', query_id: 'q', window: '2d' }, 'window: 2d is beyond the retention of 1d'],
    [{ type: 'subscribe', query_id: 'q', side: 'both' }, 'side: "server" or "client"'],
    [{ type: 'subscribe', query_id: 'q', stream: 'logs' }, 'stream: "logs" is not "exchanges"'],
    [{ type: 'unsubscribe', query_id: 'never' }, 'query_id: "never" is not subscribed'],
  ];
  for (const [message, expected] of cases) {
    c.send(message);
    const e = await c.next('error');
    t.ok(String(e.message).startsWith(expected), `${JSON.stringify(message)} → ${e.message}`);
  }
  for (let i = 0; i < 10; i++) c.send({ type: 'subscribe', query_id: `q${i}` });
  c.send({ type: 'subscribe', query_id: 'q10' });
  t.equal((await c.next('error')).message, 'at most 10 subscriptions per connection');
  c.send({ type: 'subscribe', query_id: 'q3', window: '5m' });
  for (let i = 0; i < 10; i++) await c.next('subscribed');
  t.same(await c.next('subscribed'), { type: 'subscribed', query_id: 'q3' }, 'subscribing a query_id again replaces it: no cap');
  c.ws.send('x'.repeat(70 * 1024));
  t.equal((await c.closed).code, 1009, 'a message over 64 KiB closes the connection (1009: too big)');
});

t.test('the cap on distinct queries counts work: identical subscriptions share one', async (t) => {
  const { url, hub } = await setup(t, { maxQueries: 2 });
  const a = await connect(`${url}/ws/a`);
  const b = await connect(`${url}/ws/b`);
  a.send({ type: 'subscribe', query_id: 'one', window: '1m' });
  a.send({ type: 'subscribe', query_id: 'two', window: '5m' });
  await a.next('subscribed');
  await a.next('subscribed');
  b.send({ type: 'subscribe', query_id: 'same', window: '60s' });
  t.same(await b.next('subscribed'), { type: 'subscribed', query_id: 'same' }, '60s is 1m: the same query, shared');
  t.equal(hub.stats().queries, 2);
  b.send({ type: 'subscribe', query_id: 'third', window: '15m' });
  t.equal((await b.next('error')).message, 'at most 2 distinct live queries on this agent (identical subscriptions share one)');
  a.send({ type: 'subscribe', query_id: 'two', window: '15m' });
  t.same(await a.next('subscribed'), { type: 'subscribed', query_id: 'two' }, 'replacing the last subscriber of a query frees its place');
  const update = await a.next('realtime_update', 3000, (m) => m.query_id === 'two' && (m.data as { window: string }).window === '15m');
  t.match(update, { data: { window_seconds: 900 } }, 'and it is answered');
  t.equal(hub.stats().queries, 2);
  a.ws.close();
  await a.closed;
  const deadline = Date.now() + 5000;
  while (hub.stats().queries !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(hub.stats().queries, 1, "a's queries gone with it; b's 1m stays");
  b.ws.close();
});

t.test('/ws/analytics: a snapshot at once, then periodically', async (t) => {
  const { url } = await setup(t, { snapshotMs: 200 });
  const c = await connect(`${url}/ws/analytics`);
  const first = await c.next('analytics_snapshot');
  t.match((first.data as { totals: unknown }).totals, { requests: 10 });
  t.match(await c.next('analytics_snapshot', 5000), { type: 'analytics_snapshot' });
  c.ws.close();
});

t.test('live exchanges as new_event, within the per-second budget', async (t) => {
  const { url, hub } = await setup(t, { maxEventsPerSecond: 3 });
  const c = await connect(`${url}/ws/tail`);
  c.send({ type: 'subscribe', query_id: 'tail', stream: 'exchanges' });
  await c.next('subscribed');
  hub.exchanges(records(5, () => '/x?q=<script>alert(1)</script>&flag'), 5, 0);
  const e = await c.next('new_event');
  t.match(e, { query_id: 'tail', data: { side: 'server', process: 'api', method: 'GET', target: '/x?q=*&flag', status: 500 } }, 'query values masked');
  await c.next('new_event');
  await c.next('new_event');
  t.same(hub.stats().eventsSent, 3);
  t.same(hub.stats().eventsSkipped, 2, 'past the budget: counted, not sent');
  c.send({ type: 'unsubscribe', query_id: 'tail' });
  await c.next('unsubscribed');
  hub.exchanges(records(5), 5, 0);
  t.same([hub.stats().eventsSent, hub.stats().eventsSkipped], [3, 2], 'nobody subscribed: the batch is not even looked at');
  c.ws.close();
});

t.test('paths, the connection cap, and the heartbeat', async (t) => {
  // The clients share the hub's event loop: a stall as long as a heartbeat would terminate the answering one too.
  const { url, hub } = await setup(t, { maxConnections: 2, heartbeatMs: 1000 });
  const status = async (path: string) => ((await refusal(`${url}${path}`)) as { status: number }).status;
  t.equal(await status('/ws/bad%20id'), 404);
  t.equal(await status('/ws'), 404);
  const a = await connect(`${url}/ws/a`);
  const b = await connect(`${url}/ws/b`, undefined, { autoPong: false });
  t.equal(await status('/ws/c'), 503, 'over the cap: 503');
  t.equal(hub.stats().rejectedFull, 1);
  t.equal((await b.closed).code, 1006, 'a client that does not answer pings is terminated');
  await new Promise((r) => setTimeout(r, 2500)); // two more heartbeats
  t.equal(a.ws.readyState, WebSocket.OPEN, 'a client that answers stays');
  t.equal(hub.stats().connections, 1);
  a.ws.close();
});

t.test('a slow consumer is closed, not buffered without bound', async (t) => {
  // Many routes make a big snapshot; sent every 10 ms (a budget for it) to a client that stops reading.
  const { url, hub } = await setup(t, { snapshotMs: 10, maxBufferedBytes: 256 * 1024, queryBudgetMsPerSecond: 1000 }, records(2000, (i) => `/r/${'abcdefghij'[i % 10]}${'abcdefghij'[Math.floor(i / 10) % 10]}${'abcdefghij'[Math.floor(i / 100) % 10]}`));
  const c = await connect(`${url}/ws/analytics`);
  await c.next('analytics_snapshot');
  (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const deadline = Date.now() + 40_000;
  while (hub.stats().closedSlow === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.equal(hub.stats().closedSlow, 1, 'closed as slow');
  t.equal(hub.stats().connections, 0);
});

t.test('new_metric when a series appears for the first time', async (t) => {
  const { url, engine } = await setup(t);
  const c = await connect(`${url}/ws/watcher`);
  engine.ingest(records(1, () => '/brand-new'), 1);
  await engine.sync();
  const m = await c.next('new_metric');
  t.match(m, { type: 'new_metric', data: { name: 'http_requests_total', kind: 'counter', labels: { service: 'api:8080', route: '/brand-new', method: 'GET' } } });
  c.ws.close();
});
