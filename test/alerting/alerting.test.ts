/**
 * The alerting component on a real MetricStore filled with duration cells
 * (what the engine publishes for exchanges), a fake clock and the in-memory
 * repositories: a 5xx burst through pending, firing, repeats and resolve per
 * service with the exact Notification; incidents opened, joined after a
 * restart, resolved, acknowledged, silenced; a throwing notify and a broken
 * rule not stopping evaluation; error_rate equal to redRows; vanished groups;
 * anomaly bands in the view; the rule API (create, replace, enable, delete).
 */
import crypto from 'node:crypto';
import t, { type Test } from 'tap';
import type { DeltaCell } from '../../src/analytics/cells';
import { Distribution } from '../../src/analytics/distribution';
import { FAMILIES, seriesKey } from '../../src/analytics/families';
import { redRows } from '../../src/analytics/red';
import { MetricStore } from '../../src/analytics/store';
import { Alerting, type AlertingDeps } from '../../src/alerting/alerting';
import { observe } from '../../src/alerting/anomaly';
import { ruleFromApi, rulesFromConfig } from '../../src/alerting/rule-input';
import { formatValue } from '../../src/alerting/template';
import type { AlertEvent, AlertRule, Baseline, Notification } from '../../src/alerting/types';
import { TracerError } from '../../src/errors';
import { NO_HTTP_IDENTITY } from '../helpers/identity-labels';
import { MemoryIncidentRepository, MemoryRuleRepository } from '../helpers/memory-repositories';

const T0 = 1_800_000_000_000; // a multiple of 10 s
const STEP = 10_000;
/** Evaluation k happens mid-bucket k: a 1m window then covers 55 s (buckets k-5..k). */
const at = (k: number): number => T0 + k * STEP + 5_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const fingerprint = (ruleId: string, key: string): string => crypto.createHash('sha256').update(`${ruleId}\u0000${key}`).digest('hex').slice(0, 16);
const URL = (id: string): string => `http://node-1:8080/#/alerts/${id}`;

function durations(service: string, status: number, errorType: string, count: number, seconds: number, bucketMs: number, route = '/orders'): DeltaCell {
  const d = new Distribution();
  for (let i = 0; i < count; i++) d.record(seconds);
  const labels = [service, 'server', '8080', 'GET', route, String(status), errorType, ...NO_HTTP_IDENTITY];
  return { family: 'http_request_duration_seconds', labels, key: seriesKey(labels), bucketMs, value: count, dist: d.toData(), bounds: [count, ...new Array(14).fill(0)] };
}

interface Setup {
  store: MetricStore;
  clock: { now: number };
  rules: MemoryRuleRepository;
  incidents: MemoryIncidentRepository;
  sent: Notification[];
  events: AlertEvent[];
  alerting: Alerting;
  /** Bucket k's traffic, ingested at evaluation k's time. */
  feed(k: number, cells: (bucketMs: number) => DeltaCell[]): void;
  /** Sets the clock to at(k) and evaluates. */
  evaluate(k: number): void;
  make(overrides?: Partial<AlertingDeps>): Alerting;
}

function setup(t: Test, configRules: AlertRule[] = [], overrides: Partial<AlertingDeps> = {}, shared?: Pick<Setup, 'store' | 'clock' | 'rules' | 'incidents'>): Setup {
  const clock = shared?.clock ?? { now: at(0) };
  const store = shared?.store ?? new MetricStore({ families: FAMILIES, retentionMs: 86_400_000, limits: { perService: 1000, global: 10_000 }, now: () => clock.now });
  // Data an hour back: rates divide by the whole window from the start.
  if (!shared) store.ingest([durations('quiet:1', 200, '', 1, 0.01, T0 - 3_600_000)]);
  const rules = shared?.rules ?? new MemoryRuleRepository();
  const incidents = shared?.incidents ?? new MemoryIncidentRepository();
  const sent: Notification[] = [];
  const events: AlertEvent[] = [];
  const make = (o: Partial<AlertingDeps> = {}): Alerting => {
    const a = new Alerting({ store, rules, incidents, notify: (n) => sent.push(n), configRules, intervalMs: STEP, resendIntervalMs: 60_000, now: () => clock.now, node: 'node-1', generatorUrl: URL, ...overrides, ...o });
    a.on((e) => events.push(e));
    t.teardown(() => a.shutdown());
    return a;
  };
  const alerting = make();
  return {
    store,
    clock,
    rules,
    incidents,
    sent,
    events,
    alerting,
    make,
    feed(k, cells) {
      clock.now = at(k);
      store.ingest(cells(T0 + k * STEP));
    },
    evaluate(k) {
      clock.now = at(k);
      alerting.evaluate();
    },
  };
}

/** Seed 002's rule, tighter: more than 1 error/s for 30 s. */
const HIGH_ERROR_RATE = {
  name: 'high_error_rate',
  metric: 'http_errors_total_rate',
  condition: 'gt',
  threshold: 1,
  duration_seconds: 30,
  labels: { severity: 'warning', team: 'backend' },
  annotations: { description: '{service}: {value} errors/s (over {threshold})', runbook: 'https://wiki.company.com/runbooks/high-error-rate' },
};
const config = (...raws: unknown[]): AlertRule[] => rulesFromConfig(raws, 'config test.json', T0);

/** api:8080 fails 60 of 100 exchanges per 10 s (6/s), web:80 5 of 100 (0.5/s). */
const burst = (bucketMs: number): DeltaCell[] => [
  durations('api:8080', 500, '5xx', 60, 0.2, bucketMs),
  durations('api:8080', 200, '', 40, 0.01, bucketMs),
  durations('web:80', 503, '5xx', 5, 0.2, bucketMs),
  durations('web:80', 200, '', 95, 0.01, bucketMs),
];
const calm = (bucketMs: number): DeltaCell[] => [durations('api:8080', 200, '', 100, 0.01, bucketMs), durations('web:80', 200, '', 100, 0.01, bucketMs)];

t.test('a 5xx burst: pending, firing after 30 s per service, repeats, resolved; the exact notifications', async (t) => {
  const s = setup(t, config(HIGH_ERROR_RATE));
  const id = 'config_high_error_rate';
  const states = (): string[] => s.alerting.rule(id).instances.map((i) => `${i.labels.service} ${i.state}`);

  s.feed(0, burst);
  s.evaluate(0);
  // 60 errors in the 55 s the window covers: 1.09/s. web:80: 0.09/s.
  t.same(states(), ['api:8080 pending']);
  t.equal(s.alerting.rule(id).instances[0].value, 60 / 55);
  t.equal(s.alerting.rule(id).state, 'pending');
  for (const k of [1, 2]) {
    s.feed(k, burst);
    s.evaluate(k);
    t.same(states(), ['api:8080 pending'], `still pending ${k * 10} s in`);
  }
  t.same(s.sent, [], 'nothing sent while pending');
  s.feed(3, burst);
  s.evaluate(3);
  t.same(states(), ['api:8080 firing'], 'fires 30 s after it started holding');

  const [incident] = s.incidents.list({ limit: 10 });
  t.match(incident.id, /^inc_[0-9a-f]{16}$/);
  const value = 240 / 55;
  const notice = {
    rule_id: id,
    name: 'high_error_rate',
    metric: 'http_errors_total_rate',
    severity: 'warning',
    state: 'firing',
    labels: { alertname: 'high_error_rate', node: 'node-1', severity: 'warning', team: 'backend', service: 'api:8080' },
    annotations: { summary: 'high_error_rate: http_errors_total_rate is 4.364', description: 'api:8080: 4.364 errors/s (over 1)', runbook: 'https://wiki.company.com/runbooks/high-error-rate' },
    value,
    threshold: 1,
    condition: 'gt',
    starts_at: iso(at(3)),
    message: 'api:8080: 4.364 errors/s (over 1)',
    incident_id: incident.id,
    generator_url: URL(id),
  };
  t.same(s.sent, [{ fingerprint: fingerprint(id, 'api:8080'), status: 'firing', notice, channels: [], repeat: false }], 'the exact notification');
  t.same(s.events, [{ type: 'alert_triggered', alert: notice }], 'alert_triggered');
  t.same(s.alerting.history(10), [notice]);
  const view = s.alerting.rule(id);
  t.same(view.activity, { lastTriggeredAt: at(3), triggerCount: 1 });
  t.same(view.instances[0], {
    ruleId: id,
    key: 'api:8080',
    labels: { service: 'api:8080' },
    state: 'firing',
    value,
    activeSince: at(0),
    firedAt: at(3),
    valueAtFiring: value,
    message: 'api:8080: 4.364 errors/s (over 1)',
    incidentId: incident.id,
  });
  t.same(incident, {
    id: incident.id,
    ruleId: id,
    ruleName: 'high_error_rate',
    key: 'api:8080',
    labels: notice.labels,
    severity: 'warning',
    status: 'open',
    openedAt: at(3),
    valueAtOpen: value,
    lastValue: value,
    message: notice.message,
    history: [{ at: at(3), action: 'opened', by: 'alert' }],
  });
  t.same(s.alerting.active().length, 1);
  t.same(s.alerting.stats().instances, { pending: 0, firing: 1 });

  // Still failing: a repeat once the resend interval (60 s) has passed since the last one.
  s.sent.length = 0;
  for (let k = 4; k <= 9; k++) {
    s.feed(k, burst);
    s.evaluate(k);
  }
  t.same(
    s.sent.map((n) => [n.status, n.repeat, n.notice.starts_at, n.notice.value]),
    [['firing', true, iso(at(3)), 360 / 55]],
    'one repeat, 60 s after the first',
  );
  t.equal(s.events.length, 1, 'repeats are not events');

  // The burst ends: the window empties of errors 50 s later.
  s.sent.length = 0;
  for (let k = 10; k <= 14; k++) {
    s.feed(k, calm);
    s.evaluate(k);
  }
  t.same(states(), ['api:8080 firing'], 'errors still in the window');
  s.feed(15, calm);
  s.evaluate(15);
  t.same(states(), ['api:8080 resolved']);
  const resolved = s.sent.find((n) => n.status === 'resolved')!;
  t.same(
    [resolved.fingerprint, resolved.repeat, resolved.notice.state, resolved.notice.value, resolved.notice.starts_at, resolved.notice.ends_at, resolved.notice.incident_id],
    [fingerprint(id, 'api:8080'), false, 'resolved', 0, iso(at(3)), iso(at(15)), incident.id],
  );
  t.same(s.events.map((e) => e.type), ['alert_triggered', 'alert_resolved']);
  t.same(s.alerting.history(10).map((n) => n.state), ['resolved', 'firing'], 'newest first');
  const closed = s.incidents.get(incident.id)!;
  t.same([closed.status, closed.resolvedBy, closed.resolvedAt, closed.lastValue, closed.history.map((h) => `${h.action} by ${h.by}`)], ['resolved', 'alert', at(15), 0, ['opened by alert', 'resolved by alert']]);
  t.equal(s.alerting.rule(id).state, 'inactive');

  // Again: a new round, a new incident.
  for (let k = 16; k <= 19; k++) {
    s.feed(k, burst);
    s.evaluate(k);
  }
  t.same(states(), ['api:8080 firing']);
  const incidents = s.incidents.list({ limit: 10 });
  t.equal(incidents.length, 2);
  t.same([incidents[0].status, s.alerting.rule(id).activity.triggerCount], ['open', 2]);
  t.not(incidents[0].id, incident.id);
  t.same(s.alerting.stats().failures, 0);
});

t.test('error_rate reads the same numbers as redRows, per service', async (t) => {
  const s = setup(t, config({ name: 'errors', metric: 'error_rate', condition: 'gte', threshold: 0.05, duration_seconds: 0 }));
  s.feed(0, (b) => [...burst(b), durations('api:8080', 0, 'aborted', 3, 1, b), durations('web:80', 404, '', 7, 0.01, b)]);
  s.evaluate(0);
  const rows = Object.fromEntries(redRows(s.store, 60_000, ['service'], {}, at(0)).map((r) => [r.labels.service, r.errorRate]));
  t.same(rows, { 'api:8080': 63 / 103, 'web:80': 5 / 107 }, 'the aborted exchanges are errors; the 404s are not');
  t.same(Object.fromEntries(s.alerting.rule('config_errors').instances.map((i) => [i.labels.service, i.value])), { 'api:8080': rows['api:8080'] });
  t.same(Object.fromEntries(s.alerting.rule('config_errors').instances.map((i) => [i.labels.service, i.state])), { 'api:8080': 'firing' }, 'the 404 is not an error: web:80 at 4.7 % stays quiet');
});

t.test('incidents: acknowledge, silence (no repeats, resolve still sent), conflicts, one save per change', async (t) => {
  const s = setup(t, config({ ...HIGH_ERROR_RATE, duration_seconds: 0 }));
  s.feed(0, burst);
  s.evaluate(0);
  const [{ id }] = s.incidents.list({ limit: 1 });
  const saves = s.incidents.saves;
  s.clock.now = at(0) + 1000;
  const acked = s.alerting.acknowledge(id, 'alice', 'looking');
  t.same([acked.status, acked.acknowledgedBy, acked.acknowledgedAt, acked.history.at(-1)], ['acknowledged', 'alice', at(0) + 1000, { at: at(0) + 1000, action: 'acknowledged', by: 'alice', note: 'looking' }]);
  t.equal(s.incidents.saves, saves + 1, 'one save');
  t.match(catchCode(() => s.alerting.acknowledge(id, 'bob')), { code: 'HT_ERR_CONFLICT', message: /already acknowledged by alice/ });
  t.match(catchCode(() => s.alerting.acknowledge('inc_0000000000000000')), { code: 'HT_ERR_NOT_FOUND', message: 'incident inc_0000000000000000: not found' });

  const until = at(0) + 120_000;
  const silenced = s.alerting.silence(id, until, 'alice');
  t.same([silenced.silencedUntil, silenced.status, silenced.history.at(-1)!.action], [until, 'acknowledged', 'silenced']);
  t.match(catchCode(() => s.alerting.silence(id, at(0) + 31 * 86_400_000)), { code: 'HT_ERR_BAD_REQUEST', field: 'until' });
  s.sent.length = 0;
  for (let k = 1; k <= 11; k++) {
    s.feed(k, burst);
    s.evaluate(k);
  }
  t.same(s.sent, [], 'silenced: no repeats (and acknowledged: the repeats would have gone on)');
  s.feed(12, burst);
  s.evaluate(12); // at(12) = at(0) + 120 s: the silence is over
  t.same(s.sent.map((n) => [n.status, n.repeat]), [['firing', true]], 'the silence over: repeats again');

  s.alerting.silence(id, at(12) + 600_000, 'bob', 'maintenance');
  s.sent.length = 0;
  for (let k = 13; k <= 18; k++) {
    s.feed(k, calm);
    s.evaluate(k);
  }
  t.same(s.sent.map((n) => [n.status, n.notice.labels.service]), [['resolved', 'api:8080']], 'resolved while silenced: the resolve is sent all the same');
  const done = s.alerting.incident(id);
  t.same(
    done.history.map((h) => [h.action, h.by, h.note]),
    [
      ['opened', 'alert', undefined],
      ['acknowledged', 'alice', 'looking'],
      ['silenced', 'alice', `until ${iso(until)}`],
      ['silenced', 'bob', 'maintenance'],
      ['resolved', 'alert', undefined],
    ],
  );
  t.equal(done.resolvedBy, 'alert');
  t.match(catchCode(() => s.alerting.acknowledge(id)), { code: 'HT_ERR_CONFLICT', message: /resolved when its alert resolved/ });
  t.match(catchCode(() => s.alerting.resolve(id)), { code: 'HT_ERR_CONFLICT' });
  t.match(catchCode(() => s.alerting.silence(id, at(18) + 60_000)), { code: 'HT_ERR_CONFLICT' });
  t.equal(s.alerting.incidents({ status: 'resolved', limit: 10 }).length, 1);
});

t.test('resolved by hand, unsilenced; a firing alert keeps firing', async (t) => {
  const s = setup(t, config({ ...HIGH_ERROR_RATE, duration_seconds: 0 }));
  s.feed(0, burst);
  s.evaluate(0);
  const [{ id }] = s.incidents.list({ limit: 1 });
  s.alerting.silence(id, at(0) + 60_000, 'api');
  const lifted = s.alerting.silence(id, at(0), 'api', 'false alarm'); // not after now: lifts it
  t.same([lifted.silencedUntil, lifted.history.at(-1)], [undefined, { at: at(0), action: 'unsilenced', by: 'api', note: 'false alarm' }]);
  t.match(catchCode(() => s.alerting.unsilence(id)), { code: 'HT_ERR_CONFLICT', message: `incident ${id}: is not silenced` });
  const byHand = s.alerting.resolve(id, 'carol');
  t.same([byHand.status, byHand.resolvedBy], ['resolved', 'carol']);
  s.feed(1, burst);
  s.evaluate(1);
  t.same(s.alerting.rule('config_high_error_rate').state, 'firing', 'the alert is still firing');
  t.equal(s.incidents.list({ limit: 10 }).length, 1, 'no new incident until it fires again');
});

function catchCode(f: () => unknown): { code?: string; message: string; field?: string } {
  try {
    f();
  } catch (e) {
    return e as TracerError & { field?: string };
  }
  throw new Error('no error');
}

t.test('after a restart: a firing alert joins its open incident (held while silenced); one no longer active resolves it', async (t) => {
  const s = setup(t, config({ ...HIGH_ERROR_RATE, duration_seconds: 0 }));
  s.feed(0, burst);
  s.feed(0, (b) => [durations('db:5432', 500, '5xx', 100, 0.5, b)]);
  s.evaluate(0);
  const open = Object.fromEntries(s.incidents.list({ limit: 10 }).map((i) => [i.key, i.id]));
  t.same(Object.keys(open).sort(), ['api:8080', 'db:5432']);
  s.alerting.silence(open['api:8080'], at(0) + 300_000);
  await s.alerting.shutdown();

  // The agent restarts 10 s later: db:5432 has stopped failing, api:8080 has not.
  const again = setup(t, config({ ...HIGH_ERROR_RATE, duration_seconds: 0 }), {}, s);
  again.feed(1, burst);
  again.evaluate(1);
  const api = again.incidents.get(open['api:8080'])!;
  t.same([api.status, api.history.map((h) => h.action)], ['open', ['opened', 'silenced', 'refired']], 'joined');
  t.equal(again.alerting.rule('config_high_error_rate').instances[0].incidentId, api.id);
  t.same(again.sent.map((n) => n.notice.labels.service), ['db:5432'], 'api:8080 is silenced: its firing is held');
  t.same(again.events.map((e) => `${e.type} ${e.alert.labels.service}`).sort(), ['alert_triggered api:8080', 'alert_triggered db:5432'], 'the dashboard hears of both');
  const db = again.incidents.get(open['db:5432'])!;
  // db:5432 had 100 errors in bucket 0, still in the window at 1.8/s: it fires again too.
  t.equal(db.status, 'open');
  for (let k = 2; k <= 6; k++) {
    again.feed(k, burst);
    again.evaluate(k);
  }
  const dbLater = again.incidents.get(open['db:5432'])!;
  t.same([dbLater.status, dbLater.resolvedBy], ['resolved', 'alert'], 'db:5432 resolved once its errors left the window');
  // The silence ends at at(0) + 300 s: the first delivery of the firing alert is not a repeat.
  again.sent.length = 0;
  for (let k = 7; k <= 36; k++) {
    again.feed(k, burst);
    again.evaluate(k);
  }
  t.same(again.sent.filter((n) => n.notice.labels.service === 'api:8080').map((n) => [n.status, n.repeat, n.notice.starts_at]), [
    ['firing', false, iso(at(1))],
    ['firing', true, iso(at(1))],
  ]);
  t.same(
    again.sent.filter((n) => n.notice.labels.service === 'api:8080').map((n) => n.notice.value),
    [360 / 55, 360 / 55],
    'at at(30) and at(36), each its own value',
  );

  // Another restart with the rule gone from the file: its open incident is resolved.
  const third = setup(t, [], {}, again);
  third.evaluate(37);
  const gone = third.incidents.get(open['api:8080'])!;
  t.same([gone.status, gone.history.at(-1)], ['resolved', { at: at(37), action: 'resolved', by: 'alert', note: 'the rule no longer exists' }]);
});

t.test('after a restart the store is empty: open incidents wait a whole window before they resolve', async (t) => {
  const s = setup(t, config({ ...HIGH_ERROR_RATE, duration_seconds: 0 }));
  s.feed(0, burst);
  s.evaluate(0);
  const [open] = s.incidents.list({ limit: 10 });
  t.equal(open.status, 'open');
  await s.alerting.shutdown();

  // A new process: a new, empty store; the same database. The clock starts at at(1).
  const clock = { now: at(1) };
  const store = new MetricStore({ families: FAMILIES, retentionMs: 86_400_000, limits: { perService: 1000, global: 10_000 }, now: () => clock.now });
  const again = setup(t, config({ ...HIGH_ERROR_RATE, duration_seconds: 0 }), {}, { store, clock, rules: s.rules, incidents: s.incidents });
  for (let k = 1; k <= 6; k++) {
    again.evaluate(k);
    t.equal(again.incidents.get(open.id)!.status, 'open', `${(at(k) - at(1)) / 1000} s after the restart, less than the 1m window: still open`);
  }
  again.evaluate(7);
  const later = again.incidents.get(open.id)!;
  t.same([later.status, later.resolvedBy, later.history.at(-1)!.note], ['resolved', 'alert', 'the alert is no longer active'], 'a whole window without errors: resolved');
});

t.test('a throwing notify and a broken rule do not stop evaluation', async (t) => {
  let calls = 0;
  const s = setup(t, config({ ...HIGH_ERROR_RATE, duration_seconds: 0 }, { name: 'second', metric: 'http_requests_total', condition: 'gt', threshold: 10, duration_seconds: 0 }), {
    notify: () => {
      calls++;
      throw new Error('target hangs');
    },
  });
  // An API rule whose metric is gone (a plugin's family no longer loaded).
  s.rules.save({ ...ruleFromApi({ name: 'ghost', metric_name: 'http_requests_total', condition: '>', threshold: 1 }, { id: 'alert_00000000000000aa', now: T0 }), metric: 'plugin_things_total' });
  const a = s.make();
  s.feed(0, burst);
  s.clock.now = at(0);
  const r = a.evaluate();
  t.same([r.rules, r.groups], [3, 4], 'three rules, two groups each for the two good ones');
  t.equal(calls, 3, 'api:8080 errors, api:8080 and web:80 requests');
  t.same(a.stats().instances, { pending: 0, firing: 3 });
  t.same([a.stats().failures, a.stats().notifyErrors], [1, 3]);
  t.match(a.rule('alert_00000000000000aa').lastError, /^ghost: metric: "plugin_things_total" is not a metric alerts can use/);
  t.same(
    a.rules().map((v) => [v.rule.id, v.state]),
    [
      ['config_high_error_rate', 'firing'],
      ['config_second', 'firing'],
      ['alert_00000000000000aa', 'inactive'],
    ],
  );
});

t.test('a group gone from the data: counts and rates count as 0, latencies as unknown', async (t) => {
  const s = setup(
    t,
    config(
      { name: 'slow', metric: 'http_request_duration_histogram_p95', condition: 'gt', threshold: 0.1, duration_seconds: 0 },
      { name: 'quiet', metric: 'http_requests_total_rate', condition: 'lt', threshold: 1, duration_seconds: 0, group_by: [] },
    ),
  );
  s.feed(0, (b) => [durations('api:8080', 200, '', 10, 0.5, b)]);
  s.evaluate(0);
  t.same(s.alerting.rule('config_slow').instances.map((i) => [i.labels.service, i.state, i.value]), [['api:8080', 'firing', 0.5]]);
  t.same(s.alerting.rule('config_quiet').instances.map((i) => [i.key, i.state, i.value]), [['', 'firing', 10 / 55]], 'one group over everything');
  // No traffic at all for a minute: the latency is unknown (resolved); the request rate is 0 (still below 1).
  for (let k = 1; k <= 6; k++) s.evaluate(k);
  t.same(s.alerting.rule('config_slow').instances.map((i) => [i.state, i.value]), [['resolved', NaN]]);
  const quiet = s.alerting.rule('config_quiet').instances[0];
  t.same([quiet.state, quiet.value], ['firing', 0], 'no row at all: one group over everything is 0');
  const slowResolved = s.sent.find((n) => n.notice.rule_id === 'config_slow' && n.status === 'resolved')!;
  t.equal(slowResolved.notice.value, 0.5, 'the resolve shows the last known value');
});

t.test('anomaly rules: the band per group in the view; a sustained rise fires, a spike does not', async (t) => {
  const s = setup(t, config({ name: 'errors_up', metric: 'http_errors_total', alert_type: 'anomaly', condition: 'gt', duration_seconds: 30, window: '30s' }));
  const errors = (n: number) => (b: number) => [durations('api:8080', 500, '5xx', n, 0.1, b), durations('api:8080', 200, '', 50, 0.01, b)];
  const state = (): string => s.alerting.rule('config_errors_up').state;
  // 10 errors every 10 s; a 30 s window (three buckets): 10, 20, then 30 per evaluation.
  let k = 0;
  for (; k < 15; k++) {
    s.feed(k, errors(10));
    s.evaluate(k);
  }
  let expected: Baseline | undefined;
  for (const v of [10, 20, ...new Array(13).fill(30)]) expected = observe(expected, v, { condition: 'gt', threshold: 0, sensitivity: 3 }).baseline;
  t.same(s.alerting.rule('config_errors_up').groups, [{ labels: { service: 'api:8080' }, value: 30, baseline: expected }], 'the band as anomaly.ts computes it');
  t.ok(expected!.upper < 60, `upper ${expected!.upper}`);
  // One bucket of 40 errors stays in the window for three evaluations (60 each): 20 s, short of the 30 s.
  s.feed(k, errors(40));
  s.evaluate(k++);
  t.equal(state(), 'pending');
  for (let i = 0; i < 2; i++) {
    s.feed(k, errors(10));
    s.evaluate(k++);
  }
  t.equal(state(), 'pending', 'in the window for three evaluations');
  s.feed(k, errors(10));
  s.evaluate(k++);
  t.equal(state(), 'inactive', 'the spike left the window: cleared');
  t.same(s.sent, []);
  // 40 every 10 s: 60, 90, 120, 120: anomalous for 30 s.
  for (let i = 0; i < 4; i++) {
    s.feed(k, errors(40));
    s.evaluate(k++);
  }
  t.equal(state(), 'firing', 'a sustained rise fires');
  const [n] = s.sent;
  const b = s.alerting.rule('config_errors_up').instances[0].baseline!;
  t.ok(b, 'the instance carries its band');
  t.equal(n.notice.message, `http_errors_total is 120, outside its baseline ${formatValue(b.mean)} (${formatValue(b.lower)} to ${formatValue(b.upper)}) (service api:8080)`);
});

t.test('the rule API: create, replace, enable/disable, delete; config rules cannot change', async (t) => {
  const s = setup(t, config(HIGH_ERROR_RATE));
  const created = s.alerting.create({ name: 'High Error Rate Alert', metric_name: 'http_errors_total', alert_type: 'threshold', threshold: 100, condition: '>', notification_channels: ['email', 'slack'] });
  t.match(created.rule.id, /^alert_[0-9a-f]{16}$/);
  t.same([created.state, created.instances, created.activity], ['inactive', [], { triggerCount: 0 }]);
  t.same(s.rules.list().map((r) => r.rule), [created.rule], 'saved');
  t.match(catchCode(() => s.alerting.create({ name: 'x', metric_name: 'nope', condition: '>', threshold: 1 })), { code: 'HT_ERR_BAD_REQUEST', field: 'metric_name' });
  t.match(catchCode(() => s.alerting.create({ name: 'x', metric_name: 'error_rate', condition: '>', threshold: 1, window: '2d' })), { code: 'HT_ERR_BAD_REQUEST', field: 'window' });

  const id = created.rule.id;
  s.feed(0, burst);
  s.clock.now = at(0);
  const threshold50 = { name: 'High Error Rate Alert', metric_name: 'http_errors_total', condition: '>', threshold: 50 };
  s.alerting.replace(id, threshold50);
  s.evaluate(0);
  t.same(s.alerting.rule(id).instances.map((i) => [i.labels.service, i.state]), [['api:8080', 'firing']]);
  t.same(s.rules.rows.get(id)!.activity, { lastTriggeredAt: at(0), triggerCount: 1 }, 'activity saved');
  // Same selection, another threshold: the instance stays.
  s.clock.now = at(0) + 1000;
  const replaced = s.alerting.replace(id, { ...threshold50, threshold: 40, description: 'more than {threshold}' });
  t.same([replaced.rule.createdAt, replaced.rule.updatedAt, replaced.rule.threshold, replaced.state, replaced.activity.triggerCount], [at(0), at(0) + 1000, 40, 'firing', 1]);
  // Another metric: the firing instance resolves (notified), its incident too.
  s.sent.length = 0;
  const moved = s.alerting.replace(id, { ...threshold50, metric_name: 'http_requests_total' });
  t.same([moved.state, s.sent.map((n) => n.status)], ['inactive', ['resolved']]);
  t.equal(s.incidents.list({ ruleId: id, limit: 10 })[0].history.at(-1)!.note, 'the rule changed');

  s.evaluate(1);
  t.equal(s.alerting.rule(id).state, 'firing');
  s.sent.length = 0;
  const disabled = s.alerting.setEnabled(id, false);
  t.same([disabled.rule.enabled, disabled.state, s.sent.map((n) => n.status), s.rules.rows.get(id)!.rule.enabled], [false, 'inactive', ['resolved', 'resolved'], false]);
  t.same(s.alerting.rules(true).map((v) => v.rule.id), ['config_high_error_rate']);
  t.same(s.alerting.setEnabled(id, true).rule.enabled, true);

  t.match(catchCode(() => s.alerting.replace('config_high_error_rate', threshold50)), { code: 'HT_ERR_CONFLICT' });
  t.match(catchCode(() => s.alerting.remove('config_high_error_rate')), { code: 'HT_ERR_CONFLICT' });
  t.equal(s.alerting.setEnabled('config_high_error_rate', false).rule.enabled, false, 'config rules: in memory');
  t.match(catchCode(() => s.alerting.rule('alert_ffffffffffffffff')), { code: 'HT_ERR_NOT_FOUND', message: 'alert rule alert_ffffffffffffffff: not found' });

  s.evaluate(2);
  s.sent.length = 0;
  s.alerting.remove(id);
  t.same([s.rules.list(), s.sent.map((n) => `${n.status} ${n.notice.labels.service}`)], [[], ['resolved api:8080', 'resolved web:80']], 'deleted: its firing instances resolved');
  t.match(catchCode(() => s.alerting.rule(id)), { code: 'HT_ERR_NOT_FOUND' });
  t.equal(s.incidents.unresolved().length, 0);
});

t.test('start evaluates at once and on a timer; shutdown is idempotent', async (t) => {
  const s = setup(t, config({ ...HIGH_ERROR_RATE, duration_seconds: 0 }), { intervalMs: 20 });
  s.feed(0, burst);
  const a = s.make({ intervalMs: 20 });
  a.start();
  t.equal(a.stats().evaluations, 1, 'once at start');
  await new Promise((r) => setTimeout(r, 70));
  t.ok(a.stats().evaluations >= 2, `then on the timer (${a.stats().evaluations})`);
  await a.shutdown();
  await a.shutdown();
  const n = a.stats().evaluations;
  await new Promise((r) => setTimeout(r, 50));
  t.equal(a.stats().evaluations, n, 'stopped');
  await s.alerting.shutdown(); // never started
});
