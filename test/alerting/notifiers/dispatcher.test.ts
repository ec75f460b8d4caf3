/**
 * The dispatcher against a real loopback receiver: retries until accepted
 * (the same body, counted), timeouts that never hold enqueue(), a receiver
 * that is down loses no resolve, bounded queues drop firing notifications
 * only, Alertmanager coalescing, routing by channels and repeats, shutdown.
 */
import t, { type Test } from 'tap';
import type { AlertNotice, Notification, TargetConfig } from '../../../src/alerting/types';
import { Dispatcher, RESOLVE_CEILING, type DispatcherOptions } from '../../../src/alerting/notifiers/dispatcher';
import { startReceiver, type Receiver } from '../../helpers/receiver';

const FAST: DispatcherOptions = { initialBackoffMs: 20, maxBackoffMs: 100, shutdownTimeoutMs: 500 };

function notice(over: Partial<AlertNotice> = {}): AlertNotice {
  return {
    rule_id: 'alert_0123456789abcdef',
    name: 'API errors',
    metric: 'error_rate',
    severity: 'critical',
    state: 'firing',
    labels: { alertname: 'API errors', node: 'node-1', severity: 'critical', service: 'api:8080' },
    annotations: { description: 'Error rate of api:8080 is 0.25' },
    value: 0.25,
    threshold: 0.05,
    condition: 'gt',
    starts_at: '2026-12-02T09:58:00.000Z',
    message: 'Error rate of api:8080 is 0.25',
    generator_url: 'http://127.0.0.1:8080/#/alerts/alert_0123456789abcdef',
    ...over,
  };
}

function firing(fingerprint: string, over: Partial<Notification> = {}): Notification {
  return { fingerprint, status: 'firing', notice: notice({ labels: { alertname: 'API errors', service: fingerprint } }), channels: [], repeat: false, ...over };
}

function resolved(fingerprint: string, over: Partial<Notification> = {}): Notification {
  return {
    fingerprint,
    status: 'resolved',
    notice: notice({ state: 'resolved', ends_at: '2026-12-02T10:00:00.000Z', labels: { alertname: 'API errors', service: fingerprint } }),
    channels: [],
    repeat: false,
    ...over,
  };
}

function target(kind: TargetConfig['kind'], url: string, over: Partial<TargetConfig> = {}): TargetConfig {
  return { name: kind, kind, url, headers: {}, timeoutMs: 2000, ...over };
}

async function receiver(t: Test): Promise<Receiver> {
  const r = await startReceiver();
  t.teardown(() => r.close());
  return r;
}

function dispatcher(t: Test, targets: TargetConfig[], options: DispatcherOptions = {}): Dispatcher {
  const d = new Dispatcher(targets, { ...FAST, ...options });
  t.teardown(() => d.shutdown());
  return d;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The services of the alerts a webhook request carried, with their status. */
const webhookAlerts = (json: unknown) => (json as { alerts: { status: string; labels: { service: string } }[] }).alerts.map((a) => `${a.status}:${a.labels.service}`);
const amAlerts = (json: unknown) => (json as { labels: { service: string }; endsAt: string }[]).map((a) => `${a.labels.service}@${a.endsAt}`);

t.test('fails twice, then accepts: delivered once, the same body each time, counted', async (t) => {
  const r = await receiver(t);
  r.script({ status: 500 }, { status: 503, body: 'busy\n  try later' });
  const d = dispatcher(t, [target('webhook', `${r.url}/hook`, { headers: { authorization: 'Bearer x' } })]);
  d.start();
  d.enqueue(firing('api'));
  await r.waitFor((all) => all.length === 3);
  await sleep(150); // nothing more comes
  t.equal(r.received.length, 3);
  t.equal(r.accepted().length, 1);
  t.same(new Set(r.received.map((x) => x.body)).size, 1, 'byte for byte the same body');
  t.same(r.received.map((x) => [x.method, x.path, x.headers['content-type'], x.headers.authorization]), Array(3).fill(['POST', '/hook', 'application/json', 'Bearer x']));
  t.same(webhookAlerts(r.received[2].json), ['firing:api']);
  const [s] = d.stats();
  t.match(s, { name: 'webhook', kind: 'webhook', sent: 1, failed: 2, queued: 0, dropped: 0, lastError: 'HTTP 503: busy try later' });
  t.ok(s.lastSuccessAt! >= s.lastErrorAt!);
  t.ok(r.received[2].at - r.received[1].at >= 20, 'backed off before the third attempt');
});

t.test('a hanging receiver: enqueue returns at once; the timeout is counted, and retried', async (t) => {
  const r = await receiver(t);
  r.setDefault('hang');
  const d = dispatcher(t, [target('webhook', r.url, { timeoutMs: 200 })], { shutdownTimeoutMs: 200 });
  d.start();
  const began = process.hrtime.bigint();
  for (let i = 0; i < 1000; i++) d.enqueue(firing(`svc${i}`));
  const tookMs = Number(process.hrtime.bigint() - began) / 1e6;
  t.ok(tookMs < 1000, `1000 enqueues took ${tookMs.toFixed(1)} ms`); // well under 100 ms on an idle machine
  await until(() => d.stats()[0].failed > 0, 'a timeout');
  t.match(d.stats()[0], { failed: 64, sent: 0, queued: 1000, lastError: 'timeout after 200 ms' }, 'the first batch (64) timed out, nothing lost');
  await r.waitFor((all) => all.length >= 2, 3000);
  t.same(r.received[1].body, r.received[0].body, 'the same batch again');
  const stopping = Date.now();
  await d.shutdown();
  t.ok(Date.now() - stopping < 15_000, 'shutdown gives up after its deadline'); // a 200 ms deadline; without one, the hanging receiver holds it for good
});

t.test('a receiver that is down: the resolve arrives when it is back; Alertmanager gets only the resolve', async (t) => {
  const r = await receiver(t);
  await r.down();
  const d = dispatcher(t, [target('alertmanager', `${r.url}/am`), target('webhook', `${r.url}/hook`)]);
  d.start();
  d.enqueue(firing('api'));
  await until(() => d.stats().every((s) => s.failed >= 1), 'both targets to fail');
  for (const s of d.stats()) t.equal(s.lastError, `connect ECONNREFUSED 127.0.0.1:${r.port}`);
  d.enqueue(resolved('api'));
  t.same(d.stats().map((s) => s.queued), [1, 2], 'Alertmanager: the resolve replaced the firing; webhook: both wait');
  await r.up();
  await until(() => d.stats().every((s) => s.queued === 0), 'the queues to empty');
  await sleep(100);
  const am = r.received.filter((x) => x.path === '/am/api/v2/alerts');
  t.same(am.map((x) => amAlerts(x.json)), [['api@2026-12-02T10:00:00.000Z']], 'one request: the resolve, ending when it resolved');
  const hook = r.received.filter((x) => x.path === '/hook');
  t.same(hook.map((x) => webhookAlerts(x.json)), [['firing:api'], ['resolved:api']], 'the webhook gets both, in order');
  t.same(d.stats().map((s) => [s.sent, s.dropped]), [[1, 0], [2, 0]]);
});

t.test('Alertmanager: a newer notification replaces the one waiting, also in a failed batch', async (t) => {
  const r = await receiver(t);
  const d = dispatcher(t, [target('alertmanager', r.url)], { now: () => Date.parse('2026-12-02T10:00:00.000Z') });
  d.enqueue(firing('a'));
  d.enqueue(firing('b'));
  d.enqueue(firing('a', { repeat: true }));
  d.enqueue(resolved('b'));
  t.equal(d.stats()[0].queued, 2);
  d.start();
  await r.waitFor((all) => all.length === 1);
  t.same(amAlerts(r.received[0].json), ['a@2026-12-02T10:04:00.000Z', 'b@2026-12-02T10:00:00.000Z'], 'in the order of the newest of each');
});

t.test('Alertmanager answering 400 (an alert it finds invalid; it keeps the valid ones) is not retried; the next batch goes', async (t) => {
  const r = await receiver(t);
  r.script({ status: 400, body: '"invalid label set: invalid name \\"a-b\\""\n' });
  const d = dispatcher(t, [target('alertmanager', r.url), target('webhook', `${r.url}/hook`)]);
  d.start();
  d.enqueue(firing('bad', { channels: ['alertmanager'] }));
  await until(() => d.stats()[0].failed === 1, 'the refusal');
  d.enqueue(firing('good', { channels: ['alertmanager'] }));
  await until(() => d.stats()[0].sent === 1, 'the next batch');
  t.same(r.received.map((x) => amAlerts(x.json).map((a) => a.split('@')[0])), [['bad'], ['good']], 'bad sent once');
  t.match(d.stats()[0], { sent: 1, failed: 1, queued: 0, lastError: 'HTTP 400: "invalid label set: invalid name \\"a-b\\""' });

  // A webhook's 400 is retried like any other failure (the receiver may be mid-deploy).
  r.script({ status: 400 });
  d.enqueue(firing('hooked', { channels: ['webhook'] }));
  await until(() => d.stats()[1].sent === 1, 'the webhook retry');
  t.match(d.stats()[1], { sent: 1, failed: 1 });
});

t.test('a full queue drops the oldest firing notifications, never a resolve', async (t) => {
  const r = await receiver(t);
  const d = dispatcher(t, [target('webhook', r.url)], { maxQueue: 3 });
  for (const n of [firing('f1'), resolved('r1'), firing('f2'), firing('f3'), firing('f4'), resolved('r2'), resolved('r3'), firing('f5')]) d.enqueue(n);
  t.match(d.stats()[0], { queued: 3, dropped: 5 }, 'f1 to f4 made room (for f3, f4, r2, r3); f5 found only resolves');
  d.start();
  await r.waitFor((all) => all.length === 1);
  t.same(webhookAlerts(r.received[0].json), ['resolved:r1', 'resolved:r2', 'resolved:r3']);

  // The memory guard: resolves past RESOLVE_CEILING × maxQueue, the oldest goes.
  const guard = dispatcher(t, [target('webhook', r.url)], { maxQueue: 1 });
  for (let i = 0; i < RESOLVE_CEILING + 2; i++) guard.enqueue(resolved(`r${i}`));
  t.match(guard.stats()[0], { queued: RESOLVE_CEILING, dropped: 2 });
});

t.test('routing: channels name targets or kinds; repeats go to Alertmanager only', async (t) => {
  const r = await receiver(t);
  const d = dispatcher(t, [target('alertmanager', `${r.url}/am`, { name: 'am' }), target('webhook', `${r.url}/ops`, { name: 'ops' }), target('slack', `${r.url}/chat`, { name: 'chat' })]);
  d.start();
  const cases: [string[], boolean, string[]][] = [
    [[], false, ['am', 'ops', 'chat']],
    [['ops'], false, ['ops']],
    [['slack'], false, ['chat']],
    [['alertmanager', 'chat'], false, ['am', 'chat']],
    [['nobody'], false, []],
    [[], true, ['am']],
    [['ops', 'chat'], true, []],
  ];
  for (const [channels, repeat, expected] of cases) {
    const before = d.stats().map((s) => s.sent);
    d.enqueue(firing(`x${channels.join('-')}${repeat}`, { channels, repeat }));
    const names = d.stats().map((s) => s.name);
    await until(() => d.stats().every((s, i) => s.sent > before[i] || !expected.includes(names[i])), 'the expected targets');
    await sleep(50); // and no other
    const got = d.stats().filter((s, i) => s.sent > before[i]).map((s) => s.name);
    t.same(got, expected, `channels ${JSON.stringify(channels)}${repeat ? ', repeat' : ''}`);
  }
  t.same(r.received.map((x) => x.path).filter((p) => p === '/am/api/v2/alerts').length, 3);
});

t.test('batches: what is enqueued together goes together, up to batchMax (Slack: 20)', async (t) => {
  const r = await receiver(t);
  const d = dispatcher(t, [target('webhook', `${r.url}/hook`), target('slack', `${r.url}/chat`)], { batchMax: 30 });
  d.start();
  for (let i = 0; i < 45; i++) d.enqueue(firing(`s${i}`));
  await until(() => d.stats().every((s) => s.sent === 45), 'all sent');
  const sizes = (p: string) => r.received.filter((x) => x.path === p).map((x) => (x.json as { attachments?: unknown[]; alerts?: unknown[] })[p === '/hook' ? 'alerts' : 'attachments']!.length);
  t.same(sizes('/hook'), [30, 15]);
  t.same(sizes('/chat'), [20, 20, 5]);
});

t.test('shutdown: one last attempt for what waits (also without start), idempotent; enqueue after is ignored', async (t) => {
  const r = await receiver(t);
  const d = new Dispatcher([target('webhook', r.url)], FAST);
  d.enqueue(resolved('late'));
  const first = d.shutdown();
  t.equal(d.shutdown(), first, 'the same promise');
  await first;
  t.same(r.received.map((x) => webhookAlerts(x.json)), [['resolved:late']]);
  d.enqueue(firing('after'));
  d.start();
  await sleep(50);
  t.equal(r.received.length, 1);
  t.match(d.stats()[0], { sent: 1, queued: 0 });

  // A receiver that is down at shutdown: one attempt, no backoff wait. The backoff is really 30–60 s
  // (FAST caps it at 100 ms), so no retry comes before shutdown; the shutdown deadline is longer than
  // the bound, so waiting out the backoff fails it instead of being cut short by the deadline.
  await r.down();
  const down = new Dispatcher([target('webhook', r.url)], { ...FAST, initialBackoffMs: 60_000, maxBackoffMs: 60_000, shutdownTimeoutMs: 30_000 });
  down.start();
  down.enqueue(resolved('lost'));
  await until(() => down.stats()[0].failed === 1, 'the first failure');
  const began = Date.now();
  await down.shutdown();
  t.ok(Date.now() - began < 10_000, `no backoff wait at shutdown (${Date.now() - began} ms)`);
  t.match(down.stats()[0], { failed: 2, sent: 0, queued: 1 });
});
