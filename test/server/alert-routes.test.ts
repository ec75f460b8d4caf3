/**
 * The alert and incident REST surface (src/server/routes/alerts.ts) on what
 * production runs: a real Alerting with the SQLite repositories on a temp
 * directory, reading a real Engine's store fed with known exchanges, through
 * inject(). Exact answers: seed 000's Create Alert and Alert model, seed 002's
 * rules from the file (read-only through the API), every bad rule named by its
 * field, the firing alert in /api/alerts, the incident lifecycle (filters,
 * acknowledge, silence, resolve), alerting off, a restart on the same
 * database, and captured strings escaped in every answer.
 *
 * No kernel: the exchanges are encoded records (test/helpers/records.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { engineReaders } from '../../src/agent/readers';
import { Alerting } from '../../src/alerting/alerting';
import { rulesFromConfig } from '../../src/alerting/rule-input';
import type { AlertEvent, AlertRule, Notification } from '../../src/alerting/types';
import { Engine } from '../../src/pipeline/engine';
import { buildApp } from '../../src/server/app';
import { closeDatabase, openDatabase, type Database } from '../../src/storage/database';
import { SqliteIncidentRepository } from '../../src/storage/incident-repository';
import { SqliteRuleRepository } from '../../src/storage/rule-repository';
import { batchOf, encodeExchange } from '../helpers/records';
import { SEED_000_CREATE, SEED_002_RULES } from '../helpers/seed-alerts';


const EVIL_SERVICE = 'ev\x1bil\x07:81';
const EVIL_ROUTE = '/p\x1b[2J';
const JSON_TYPE = { 'content-type': 'application/json' };
const iso = (ms: number): string => new Date(ms).toISOString();
/** Raw control characters (C0, DEL, C1): none may leave the agent. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x1f\x7f-\x9f]/;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alert-routes-'));
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

/**
 * One engine for the file, fed once (times relative to the wall clock, which
 * the store and Alerting read): in the last minute api:8080 answered 3 × 200,
 * 500 and 503 on /users/{id}; the evil service 500 once on a route with an
 * escape sequence.
 */
let shared: Promise<Engine> | undefined;
t.teardown(async () => (await shared)?.stop());
function engine(): Promise<Engine> {
  shared ??= (async () => {
    const e = await Engine.start({ workerThreads: 1, clockOffsetMs: 0, publishIntervalMs: 60_000 });
    const now = Date.now();
    const at = (msBefore: number) => ({ endNs: BigInt(now - msBefore) * 1_000_000n, startNs: BigInt(now - msBefore - 5) * 1_000_000n });
    const records = [
      ...[200, 200, 200, 500, 503].map((status, i) => encodeExchange({ comm: 'api', localPort: 8080, head: `GET /users/${i} HTTP/1.1\r\n\r\n`, status, ...at(1000 + 100 * i) })),
      encodeExchange({ comm: 'ev\x1bil\x07', localPort: 81, head: `GET ${EVIL_ROUTE} HTTP/1.1\r\n\r\n`, status: 500, ...at(1500) }),
    ];
    e.ingest(batchOf(...records), records.length);
    await e.sync();
    return e;
  })();
  return shared;
}

interface Setup {
  app: FastifyInstance;
  alerting: Alerting;
  db: Database;
  dir: string;
  notified: Notification[];
  events: AlertEvent[];
  /** Closes the app, stops alerting and closes the database (idempotent; also at teardown). */
  close(): Promise<void>;
}

let dirs = 0;
/** An app on a real Alerting with SQLite repositories under `dir` (a new directory unless given). */
async function setup(t: Test, options: { configRules?: AlertRule[]; dir?: string } = {}): Promise<Setup> {
  const e = await engine();
  const dir = options.dir ?? path.join(root, `d${dirs++}`);
  const db = openDatabase(dir, 'test');
  const notified: Notification[] = [];
  const events: AlertEvent[] = [];
  const alerting = new Alerting({
    store: e.store,
    rules: new SqliteRuleRepository(db),
    incidents: new SqliteIncidentRepository(db),
    notify: (n) => void notified.push(n),
    configRules: options.configRules ?? [],
    intervalMs: 10_000,
    now: Date.now,
    node: 'node-1',
    generatorUrl: (id) => `http://node-1:8080/#alert=${encodeURIComponent(id)}`,
  });
  alerting.on((ev) => void events.push(ev));
  const app = buildApp({ ...engineReaders(e), scrape: async () => '', startedAtMs: Date.now(), alerting });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      await app.close();
      await alerting.shutdown();
      closeDatabase(db);
    })());
  t.teardown(close);
  return { app, alerting, db, dir, notified, events, close };
}

async function call(app: FastifyInstance, req: InjectOptions | string): Promise<{ status: number; body: any; raw: string }> {
  const r = await app.inject(req);
  return { status: r.statusCode, body: r.body === '' ? undefined : r.json(), raw: r.body };
}
/** Status and parsed body, for exact comparisons. */
const outcome = (app: FastifyInstance, req: InjectOptions | string): Promise<{ status: number; body: any }> => call(app, req).then((r) => ({ status: r.status, body: r.body }));
const post = (url: string, payload?: unknown): InjectOptions => (payload === undefined ? { method: 'POST', url } : { method: 'POST', url, payload: payload as object });
const refusal = (status: number, code: string, error: string, message: string, field?: string) => ({ status, body: field === undefined ? { code, error, message } : { code, error, message, field } });
const notFound = (id: string) => refusal(404, 'HT_ERR_NOT_FOUND', 'not found', `alert rule ${id}: not found`);

/** Seed 000's rule as created at `at` (ms) with id `id`: its Alert model fields, then ours. */
function seedRule(id: string, at: number): Record<string, unknown> {
  return {
    id,
    name: 'High Error Rate Alert',
    metric_name: 'api_errors_total',
    alert_type: 'threshold',
    threshold: 100,
    condition: '>',
    enabled: true,
    created_at: iso(at),
    last_triggered: null,
    notification_channels: ['email', 'slack'],
    metric: 'api_errors_total',
    condition_name: 'gt',
    severity: 'warning',
    description: '',
    duration_seconds: 0,
    window: '1m',
    match: {},
    group_by: ['service'],
    labels: {},
    annotations: {},
    source: 'api',
    trigger_count: 0,
    updated_at: iso(at),
    state: 'inactive',
    instances: [],
  };
}

/** A rule that fires at the first evaluation: api:8080 had 2 failed exchanges in the last minute. */
const API_ERRORS = { name: 'api errors', metric_name: 'http_errors_total', condition: '>', threshold: 1, match: { service: 'api:8080' } };

t.test("seed 000's Create Alert: 201 with the Alert model; enabled_only lists it until it is disabled", async (t) => {
  const { app } = await setup(t);
  const before = Date.now();
  const created = await call(app, { method: 'POST', url: '/api/alerts', headers: JSON_TYPE, payload: SEED_000_CREATE });
  const after = Date.now();
  t.equal(created.status, 201);
  const rule = created.body;
  t.match(rule.id, /^alert_[0-9a-f]{16}$/, 'id alert_ + 16 hex digits');
  const at = Date.parse(rule.created_at);
  t.ok(at >= before && at <= after, 'created now');
  t.strictSame(rule, seedRule(rule.id, at), "seed 000's fields (last_triggered null), then ours");

  t.strictSame((await call(app, '/api/alerts?enabled_only=true')).body.alerts, [rule], 'enabled_only: listed');

  const disabled = await call(app, post(`/api/alerts/${rule.id}/disable`));
  t.equal(disabled.status, 200);
  t.equal(disabled.body.enabled, false);
  t.ok(Date.parse(disabled.body.updated_at) >= at, 'updated_at moves');
  t.strictSame((await call(app, '/api/alerts?enabled_only=true')).body.alerts, [], 'enabled_only: hidden');
  t.strictSame(
    (await call(app, '/api/alerts')).body.alerts.map((r: { id: string; enabled: boolean }) => [r.id, r.enabled]),
    [[rule.id, false]],
    'the plain list still shows it, disabled',
  );
  t.strictSame((await call(app, post(`/api/alerts/${rule.id}/disable`))).body, disabled.body, 'disabling again: 200, nothing changes');

  const enabled = await call(app, post(`/api/alerts/${rule.id}/enable`));
  t.equal(enabled.status, 200);
  t.equal(enabled.body.enabled, true);
  t.strictSame((await call(app, '/api/alerts?enabled_only=true')).body.alerts, [enabled.body], 'enabled again: listed');
  t.strictSame((await call(app, `/api/alerts/${rule.id}`)).body, enabled.body, 'GET one: the same rule');
});

t.test('GET, PUT, DELETE one rule; an unknown id is a 404 naming it on every verb', async (t) => {
  const { app } = await setup(t);
  const rule = (await call(app, { method: 'POST', url: '/api/alerts', headers: JSON_TYPE, payload: SEED_000_CREATE })).body;
  t.strictSame(await outcome(app, `/api/alerts/${rule.id}`), { status: 200, body: rule }, 'GET: what POST answered');

  // PUT: the whole rule as GET showed it, changed (read-only fields such as state and instances are ignored).
  const changed = { ...rule, name: 'Errors above 5', threshold: 5, condition: '>=', severity: 'critical', window: '5m', labels: { team: 'backend' } };
  const put = await call(app, { method: 'PUT', url: `/api/alerts/${rule.id}`, payload: changed });
  t.equal(put.status, 200);
  t.strictSame(
    put.body,
    { ...rule, name: 'Errors above 5', threshold: 5, condition: '>=', condition_name: 'gte', severity: 'critical', window: '5m', labels: { team: 'backend' }, updated_at: put.body.updated_at },
    'changed; id and created_at kept',
  );
  t.ok(Date.parse(put.body.updated_at) >= Date.parse(rule.updated_at));
  t.strictSame((await call(app, `/api/alerts/${rule.id}`)).body, put.body, 'GET: the replaced rule');

  // A replacement, not a merge: what the body leaves out goes back to its default.
  const bare = await call(app, { method: 'PUT', url: `/api/alerts/${rule.id}`, payload: { name: 'bare', metric_name: 'api_errors_total', condition: '>', threshold: 1 } });
  t.equal(bare.status, 200);
  t.match(bare.body, { name: 'bare', notification_channels: [], severity: 'warning', window: '1m', labels: {}, created_at: rule.created_at });

  const badPut = await call(app, { method: 'PUT', url: `/api/alerts/${rule.id}`, payload: { ...changed, condition: '=>' } });
  t.strictSame(badPut, { status: 400, raw: badPut.raw, body: { code: 'HT_ERR_BAD_REQUEST', error: 'bad request', field: 'condition', message: 'condition: "=>" must be one of >, <, ==, !=, >=, <= (or gt, lt, eq, ne, gte, lte)' } });
  t.equal((await call(app, `/api/alerts/${rule.id}`)).body.name, 'bare', 'a refused PUT changes nothing');

  const del = await call(app, { method: 'DELETE', url: `/api/alerts/${rule.id}` });
  t.strictSame(del, { status: 204, body: undefined, raw: '' }, 'DELETE: 204, no body');
  t.strictSame(await outcome(app, `/api/alerts/${rule.id}`), notFound(rule.id), 'gone: 404 naming the id');
  t.strictSame((await call(app, '/api/alerts')).body.alerts, [], 'not listed');

  const unknown = 'alert_0123456789abcdef';
  for (const req of [
    { method: 'GET', url: `/api/alerts/${unknown}` },
    { method: 'PUT', url: `/api/alerts/${unknown}`, payload: changed },
    { method: 'DELETE', url: `/api/alerts/${unknown}` },
    { method: 'POST', url: `/api/alerts/${unknown}/enable` },
    { method: 'POST', url: `/api/alerts/${unknown}/disable` },
    { method: 'DELETE', url: `/api/alerts/${rule.id}` },
  ] as InjectOptions[]) {
    t.strictSame(await outcome(app, req), notFound(req.url === `/api/alerts/${rule.id}` ? rule.id : unknown), `${req.method} ${req.url}: 404`);
  }
  t.strictSame(await outcome(app, `/api/alerts/${'x'.repeat(81)}`), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'id: must NOT have more than 80 characters', 'id'), 'an id longer than 80: 400');
});

t.test("seed 002's rules from the file: source config; PUT and DELETE 409, enable/disable allowed", async (t) => {
  const loadedAt = Date.now();
  const { app } = await setup(t, { configRules: rulesFromConfig(SEED_002_RULES, 'config test.json', loadedAt) });
  const { alerts } = (await call(app, '/api/alerts')).body;
  const common = { alert_type: 'threshold', condition: '>', enabled: true, created_at: iso(loadedAt), last_triggered: null, notification_channels: [], condition_name: 'gt', window: '1m', match: {}, group_by: ['service'], source: 'config', trigger_count: 0, updated_at: iso(loadedAt), state: 'inactive', instances: [] };
  t.strictSame(alerts, [
    {
      id: 'config_high_error_rate',
      name: 'high_error_rate',
      metric_name: 'http_errors_total_rate',
      threshold: 10,
      ...common,
      metric: 'http_errors_total_rate',
      severity: 'warning',
      description: '',
      duration_seconds: 300,
      labels: { severity: 'warning', team: 'backend' },
      annotations: SEED_002_RULES[0].annotations,
    },
    {
      id: 'config_high_latency',
      name: 'high_latency',
      metric_name: 'http_request_duration_histogram_p95',
      threshold: 1,
      ...common,
      metric: 'http_request_duration_histogram_p95',
      severity: 'critical',
      description: '',
      duration_seconds: 180,
      labels: { severity: 'critical' },
      annotations: SEED_002_RULES[1].annotations,
    },
  ]);

  const id = 'config_high_error_rate';
  const conflict = (what: string) => refusal(409, 'HT_ERR_CONFLICT', 'conflict', `alert rule ${id}: comes from the configuration file and cannot be ${what} through the API (change output.analytics.alert_rules)`);
  t.strictSame(await outcome(app, { method: 'PUT', url: `/api/alerts/${id}`, payload: { name: 'x', metric_name: 'http_errors_total', condition: '>', threshold: 1 } }), conflict('replaced'), 'PUT: 409');
  t.strictSame(await outcome(app, { method: 'DELETE', url: `/api/alerts/${id}` }), conflict('deleted'), 'DELETE: 409');
  t.equal((await call(app, `/api/alerts/${id}`)).body.threshold, 10, 'unchanged, still there');
  const off = await call(app, post(`/api/alerts/${id}/disable`));
  t.match(off, { status: 200, body: { id, enabled: false, source: 'config' } }, 'disable: allowed (until restart)');
  t.strictSame((await call(app, '/api/alerts?enabled_only=true')).body.alerts.map((r: { id: string }) => r.id), ['config_high_latency']);
  t.match(await call(app, post(`/api/alerts/${id}/enable`)), { status: 200, body: { id, enabled: true } });
});

t.test('bad rules: 400 HT_ERR_BAD_REQUEST naming the field; bodies Fastify refuses keep the error shape', async (t) => {
  const { app, db } = await setup(t);
  const seed = JSON.parse(SEED_000_CREATE) as Record<string, unknown>;
  const KNOWN = 'metric_name, metric, condition_operator, name, alert_type, condition, threshold, duration_seconds, window, match, group_by, severity, description, labels, annotations, notification_channels, sensitivity, enabled';
  const rules: [string, unknown, string, string | RegExp][] = [
    ['unknown metric', { ...seed, metric_name: 'api_errors_totl' }, 'metric_name', /^metric_name: "api_errors_totl" is not a metric alerts can use \(known: http_requests_total, /],
    ['condition >>', { ...seed, condition: '>>' }, 'condition', 'condition: ">>" must be one of >, <, ==, !=, >=, <= (or gt, lt, eq, ne, gte, lte)'],
    ['no condition', { ...seed, condition: undefined }, 'condition', 'condition: is required: one of >, <, ==, !=, >=, <= (or gt, lt, eq, ne, gte, lte)'],
    ['negative duration_seconds', { ...seed, duration_seconds: -1 }, 'duration_seconds', 'duration_seconds: -1 must be a whole number of seconds from 0 to 86400'],
    ['threshold as a string', { ...seed, threshold: '10' }, 'threshold', 'threshold: "10" must be a number'],
    ['unknown field', { ...seed, colour: 'red' }, 'colour', `colour: is not a known field (known: ${KNOWN})`],
    ['a label name with a dash', { ...seed, labels: { 'team-name': 'backend' } }, 'labels.team-name', 'labels.team-name: is not a valid name (letters, digits and _, not starting with a digit)'],
    ['name too long', { ...seed, name: 'n'.repeat(201) }, 'name', 'name: is 201 characters long; at most 200'],
    ['group_by a label the metric lacks', { ...seed, group_by: ['pod'] }, 'group_by[0]', /^group_by\[0\]: "pod" is not a label of api_errors_total \(its labels: service, /],
    ['window past 24h', { ...seed, window: '2d' }, 'window', 'window: "2d" must be a duration from 30s to 1d ("30s", "5m", "1h")'],
    ['a JSON array', [1, 2], 'body', 'body: [1,2] must be a JSON object (a rule: name, metric_name, condition, threshold, ...)'],
    ['no body at all', undefined, 'body', 'body: undefined must be a JSON object (a rule: name, metric_name, condition, threshold, ...)'],
  ];
  for (const [name, body, field, message] of rules) {
    const r = await call(app, body === undefined ? post('/api/alerts') : { method: 'POST', url: '/api/alerts', headers: JSON_TYPE, payload: JSON.stringify(body) });
    t.equal(r.status, 400, `${name}: 400`);
    t.strictSame(Object.keys(r.body).sort(), ['code', 'error', 'field', 'message'], `${name}: the error body`);
    t.match(r.body, { code: 'HT_ERR_BAD_REQUEST', error: 'bad request', field }, `${name}: names ${field}`);
    if (typeof message === 'string') t.equal(r.body.message, message, `${name}: message`);
    else t.match(r.body.message, message, `${name}: message`);
  }

  // Refused by Fastify before the route: the same body, without a field.
  const fastify: [string, InjectOptions, number, string][] = [
    ['empty body with content-type json', { method: 'POST', url: '/api/alerts', headers: JSON_TYPE, payload: '' }, 400, "Body cannot be empty when content-type is set to 'application/json'"],
    ['malformed JSON', { method: 'POST', url: '/api/alerts', headers: JSON_TYPE, payload: '{"name": "x",' }, 400, "Body is not valid JSON but content-type is set to 'application/json'"],
    ['over 64 KiB', { method: 'POST', url: '/api/alerts', headers: JSON_TYPE, payload: JSON.stringify({ ...seed, description: 'd'.repeat(64 * 1024) }) }, 413, 'Request body is too large'],
    ['a form', { method: 'POST', url: '/api/alerts', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=x' }, 415, 'Unsupported Media Type'],
    ['JSON sent as text/plain', { method: 'POST', url: '/api/alerts', headers: { 'content-type': 'text/plain' }, payload: SEED_000_CREATE }, 415, 'Unsupported Media Type'],
  ];
  for (const [name, req, status, message] of fastify) {
    t.strictSame(await outcome(app, req), refusal(status, 'HT_ERR_BAD_REQUEST', 'bad request', message), `${name}: ${status}`);
  }
  t.strictSame(await outcome(app, { method: 'POST', url: '/api/alerts?dry_run=1', headers: JSON_TYPE, payload: SEED_000_CREATE }), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'dry_run: is not a known parameter', 'dry_run'), 'an unknown query parameter: 400');

  t.strictSame((await call(app, '/api/alerts')).body.alerts, [], 'nothing refused was created');
  t.equal((db.prepare('SELECT count(*) AS n FROM rules').get() as { n: number }).n, 0, 'nor stored');
});

t.test('GET /api/alerts: {enabled, alerts, active, history}; after a firing, the instance and the alert_triggered notice', async (t) => {
  const { app, alerting, events, notified } = await setup(t);
  const empty = await call(app, '/api/alerts');
  t.strictSame(empty.body, { enabled: true, alerts: [], active: [], history: [] }, 'no rules yet');

  const rule = (await call(app, { method: 'POST', url: '/api/alerts', payload: API_ERRORS })).body;
  const firedAt = Date.now();
  alerting.evaluate(firedAt);
  t.equal(events.length, 1, 'one event');
  t.equal(events[0].type, 'alert_triggered');
  const notice = events[0].alert;

  const { body } = await call(app, '/api/alerts');
  t.strictSame(Object.keys(body), ['enabled', 'alerts', 'active', 'history']);
  const [incident] = (await call(app, '/api/incidents')).body.incidents;
  t.match(incident.id, /^inc_[0-9a-f]{16}$/);
  const instance = {
    rule_id: rule.id,
    name: 'api errors',
    severity: 'warning',
    state: 'firing',
    labels: { service: 'api:8080' },
    value: 2,
    threshold: 1,
    condition: '>',
    active_since: iso(firedAt),
    fired_at: iso(firedAt),
    resolved_at: null,
    value_at_firing: 2,
    message: 'http_errors_total is 2 (> 1) (service api:8080)',
    incident_id: incident.id,
    baseline: null,
  };
  t.strictSame(body.active, [instance], 'active: the firing instance');
  t.strictSame(body.alerts, [{ ...rule, last_triggered: iso(firedAt), trigger_count: 1, state: 'firing', instances: [instance] }], 'the rule: firing, triggered once');
  t.strictSame(body.history, [JSON.parse(JSON.stringify(notice))], 'history: the alert_triggered notice');
  t.match(body.history[0], {
    rule_id: rule.id,
    name: 'api errors',
    metric: 'http_errors_total',
    state: 'firing',
    labels: { service: 'api:8080', alertname: 'api errors', node: 'node-1', severity: 'warning' },
    value: 2,
    threshold: 1,
    starts_at: iso(firedAt),
    generator_url: `http://node-1:8080/#alert=${rule.id}`,
    incident_id: incident.id,
  });
  t.strictSame(notified.map((n) => [n.status, n.repeat, n.notice.rule_id]), [['firing', false, rule.id]], 'notified once');

  t.strictSame((await call(app, '/api/alerts?history_limit=0')).body.history, [], 'history_limit=0: none');
  t.strictSame(await outcome(app, '/api/alerts?history_limit=501'), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'history_limit: must be <= 500', 'history_limit'));
  t.strictSame(await outcome(app, '/api/alerts?enabled_only=yes'), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'enabled_only: must be boolean', 'enabled_only'));
  t.strictSame(await outcome(app, '/api/alerts?colour=red'), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'colour: is not a known parameter', 'colour'));
});

t.test('incidents: filters, one incident, acknowledge, silence, resolve', async (t) => {
  const { app, alerting } = await setup(t);
  const a = (await call(app, { method: 'POST', url: '/api/alerts', payload: API_ERRORS })).body;
  const b = (await call(app, { method: 'POST', url: '/api/alerts', payload: { name: 'any errors', metric_name: 'http_errors_total', condition: '>', threshold: 0 } })).body;
  const openedAt = Date.now();
  alerting.evaluate(openedAt);

  const all = (await call(app, '/api/incidents')).body.incidents;
  t.equal(all.length, 3, 'api:8080 for each rule, the evil service for the second');
  t.ok(all.every((i: { status: string; opened_at: string }) => i.status === 'open' && i.opened_at === iso(openedAt)), 'all open, opened now');
  const ids = (q: string) => call(app, `/api/incidents${q}`).then((r) => r.body.incidents.map((i: { id: string }) => i.id).sort());
  const byRule = (rule: { id: string }) => all.filter((i: { rule_id: string }) => i.rule_id === rule.id).map((i: { id: string }) => i.id).sort();
  t.strictSame(await ids(`?rule_id=${a.id}`), byRule(a), 'rule_id');
  t.strictSame(await ids(`?rule_id=${b.id}`), byRule(b));
  t.equal(byRule(b).length, 2);
  t.equal((await call(app, '/api/incidents?limit=1')).body.incidents.length, 1, 'limit=1');
  t.equal((await call(app, '/api/incidents?limit=1000')).body.incidents.length, 3, 'limit=1000');
  for (const limit of ['0', '1001', '-1', 'ten']) {
    const r = await call(app, `/api/incidents?limit=${limit}`);
    t.match(r, { status: 400, body: { code: 'HT_ERR_BAD_REQUEST', field: 'limit' } }, `limit=${limit}: 400`);
  }
  t.strictSame(await outcome(app, '/api/incidents?limit=0'), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'limit: must be >= 1', 'limit'));
  t.strictSame(await outcome(app, '/api/incidents?limit=1001'), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'limit: must be <= 1000', 'limit'));
  t.strictSame(await outcome(app, '/api/incidents?status=closed'), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'status: must be equal to one of the allowed values', 'status'));

  const [incident] = (await call(app, `/api/incidents?rule_id=${a.id}`)).body.incidents;
  const id = incident.id as string;
  t.strictSame(
    incident,
    {
      id,
      rule_id: a.id,
      rule_name: 'api errors',
      labels: { service: 'api:8080', alertname: 'api errors', node: 'node-1', severity: 'warning' },
      severity: 'warning',
      status: 'open',
      opened_at: iso(openedAt),
      acknowledged_at: null,
      acknowledged_by: null,
      resolved_at: null,
      resolved_by: null,
      silenced_until: null,
      silenced: false,
      value_at_open: 2,
      last_value: 2,
      message: 'http_errors_total is 2 (> 1) (service api:8080)',
      history: [{ at: iso(openedAt), action: 'opened', by: 'alert', note: null }],
    },
    'the incident, exactly',
  );
  t.strictSame((await call(app, `/api/incidents/${id}`)).body, incident, 'GET one: the same');
  t.strictSame(await outcome(app, '/api/incidents/inc_0000000000000000'), refusal(404, 'HT_ERR_NOT_FOUND', 'not found', 'incident inc_0000000000000000: not found'), 'unknown: 404');
  t.strictSame(await outcome(app, post('/api/incidents/inc_0000000000000000/acknowledge', {})), refusal(404, 'HT_ERR_NOT_FOUND', 'not found', 'incident inc_0000000000000000: not found'), 'acknowledge unknown: 404');

  // acknowledge
  t.strictSame(await outcome(app, post(`/api/incidents/${id}/acknowledge`, { by: '' })), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'by: must NOT have fewer than 1 characters', 'by'));
  t.strictSame(await outcome(app, post(`/api/incidents/${id}/acknowledge`, { by: 'ann', reason: 'x' })), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'reason: is not a known parameter', 'reason'));
  t.strictSame(await outcome(app, post(`/api/incidents/${id}/acknowledge`, { note: 'n'.repeat(501) })), refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', 'note: must NOT have more than 500 characters', 'note'), 'a note over 500 characters: 400');
  const ackAt = Date.now();
  const acked = await call(app, post(`/api/incidents/${id}/acknowledge`, { by: 'ann', note: 'looking' }));
  t.equal(acked.status, 200);
  t.match(acked.body, { id, status: 'acknowledged', acknowledged_by: 'ann', resolved_at: null });
  t.ok(Date.parse(acked.body.acknowledged_at) >= ackAt);
  t.strictSame(acked.body.history.slice(1), [{ at: acked.body.acknowledged_at, action: 'acknowledged', by: 'ann', note: 'looking' }], 'a history entry');
  t.strictSame(await outcome(app, post(`/api/incidents/${id}/acknowledge`, { by: 'bob' })), refusal(409, 'HT_ERR_CONFLICT', 'conflict', `incident ${id}: already acknowledged by ann at ${acked.body.acknowledged_at}`), 'again: 409');
  t.strictSame(await ids('?status=acknowledged'), [id], 'status=acknowledged');
  t.strictSame(await ids('?status=open'), all.map((i: { id: string }) => i.id).filter((x: string) => x !== id).sort(), 'status=open');
  t.strictSame(await ids('?status=unresolved'), all.map((i: { id: string }) => i.id).sort(), 'status=unresolved: open and acknowledged');
  t.strictSame(await ids('?status=resolved'), [], 'status=resolved: none yet');
  const other = all.find((i: { id: string }) => i.id !== id).id;
  const ackNull = await call(app, { method: 'POST', url: `/api/incidents/${other}/acknowledge`, headers: JSON_TYPE, payload: 'null' });
  t.match(ackNull, { status: 200, body: { status: 'acknowledged', acknowledged_by: 'api' } }, 'a null body: by "api"');

  // silence
  const silence = (body: unknown) => outcome(app, post(`/api/incidents/${id}/silence`, body));
  const before = Date.now();
  const twoHours = await silence({ duration: '2h' });
  const after = Date.now();
  t.equal(twoHours.status, 200);
  const until = Date.parse(twoHours.body.silenced_until);
  t.ok(until >= before + 7_200_000 && until <= after + 7_200_000, `silenced_until ≈ now + 2h (${twoHours.body.silenced_until})`);
  t.equal(twoHours.body.silenced, true);
  t.equal(twoHours.body.status, 'acknowledged', 'silencing keeps the status');
  t.match(twoHours.body.history.at(-1), { action: 'silenced', by: 'api', note: `until ${twoHours.body.silenced_until}` });
  const exact = new Date(Date.now() + 3_600_000).toISOString();
  const untilAnswer = await silence({ until: exact, by: 'ann', note: 'deploy' });
  t.equal(untilAnswer.status, 200);
  t.equal(untilAnswer.body.silenced_until, exact, 'until: exactly that time (replaces the earlier silence)');
  t.match(untilAnswer.body.history.at(-1), { action: 'silenced', by: 'ann', note: 'deploy' });
  const bad = (field: string, message: string) => refusal(400, 'HT_ERR_BAD_REQUEST', 'bad request', message, field);
  const eitherOr = 'until: give either until (an ISO 8601 time) or duration ("30m", "2h"), not both';
  t.strictSame(await silence({ until: exact, duration: '2h' }), bad('until', eitherOr), 'until and duration: 400');
  t.strictSame(await silence({}), bad('until', eitherOr), 'neither: 400');
  const noBody = await call(app, { method: 'POST', url: `/api/incidents/${id}/silence` });
  t.strictSame([noBody.status, noBody.body.field, noBody.body.message], [400, 'body', 'body: must be object'], 'no body: 400 naming the body');
  t.strictSame(await silence({ by: 'ann' }), bad('until', eitherOr), 'only who: 400');
  t.strictSame(await silence({ until: '2020-01-01T00:00:00Z' }), bad('until', 'until: 2020-01-01T00:00:00Z is not in the future'), 'a past until: 400');
  t.strictSame(await silence({ until: 'tomorrow' }), bad('until', 'until: "tomorrow" is not an ISO 8601 time ("2026-12-02T18:00:00Z")'), 'until not ISO: 400');
  t.strictSame(await silence({ until: new Date(Date.now() + 31 * 86_400_000).toISOString() }), bad('until', 'until: a silence lasts at most 30 days'), 'until 31 days away: 400');
  t.strictSame(await silence({ duration: '31d' }), bad('duration', 'duration: a silence lasts at most 30 days'), 'duration over 30 days: 400');
  t.strictSame(await silence({ duration: 'soon' }), bad('duration', 'duration: "soon" is not a duration ("30m", "2h", "1d")'), 'duration "soon": 400');
  t.strictSame(await silence({ duration: '2h', reason: 'deploy' }), bad('reason', 'reason: is not a known parameter'), 'an unknown key: 400 naming it');
  t.strictSame(await outcome(app, post('/api/incidents/inc_0000000000000000/silence', { duration: '1h' })), refusal(404, 'HT_ERR_NOT_FOUND', 'not found', 'incident inc_0000000000000000: not found'), 'silence unknown: 404');
  t.equal((await call(app, `/api/incidents/${id}`)).body.silenced_until, exact, 'refusals changed nothing');
  t.equal(alerting.incident(id).silencedUntil, Date.parse(exact), 'the alerting component holds the same silence');

  // resolve
  const resolvedAt = Date.now();
  const resolved = await call(app, post(`/api/incidents/${id}/resolve`, { by: 'bob', note: 'fixed' }));
  t.equal(resolved.status, 200);
  t.match(resolved.body, { id, status: 'resolved', resolved_by: 'bob', acknowledged_by: 'ann' });
  t.ok(Date.parse(resolved.body.resolved_at) >= resolvedAt);
  t.strictSame(resolved.body.history.at(-1), { at: resolved.body.resolved_at, action: 'resolved', by: 'bob', note: 'fixed' });
  const gone = `incident ${id}: resolved by bob at ${resolved.body.resolved_at}; `;
  t.strictSame(await outcome(app, post(`/api/incidents/${id}/resolve`, {})), refusal(409, 'HT_ERR_CONFLICT', 'conflict', `${gone}cannot be resolved again`), 'resolve again: 409');
  t.strictSame(await outcome(app, post(`/api/incidents/${id}/acknowledge`, {})), refusal(409, 'HT_ERR_CONFLICT', 'conflict', `${gone}cannot be acknowledged`), 'acknowledge a resolved one: 409');
  t.strictSame(await outcome(app, post(`/api/incidents/${id}/silence`, { duration: '1h' })), refusal(409, 'HT_ERR_CONFLICT', 'conflict', `${gone}cannot be silenced`), 'silence a resolved one: 409');
  t.strictSame(await ids('?status=resolved'), [id], 'status=resolved');
  t.strictSame((await call(app, `/api/incidents/${id}`)).body, resolved.body, 'GET one: resolved');
});

t.test('alerting off: reads answer empty, every rule and incident call 409 HT_ERR_ALERTING_DISABLED', async (t) => {
  const e = await engine();
  const app = buildApp({ ...engineReaders(e), scrape: async () => '', startedAtMs: Date.now() });
  t.teardown(() => app.close());
  t.strictSame((await call(app, '/api/alerts')).body, { enabled: false, alerts: [], active: [], history: [] });
  t.strictSame((await call(app, '/api/alerts?enabled_only=true')).body, { enabled: false, alerts: [], active: [], history: [] });
  t.strictSame((await call(app, '/api/incidents')).body, { incidents: [] });
  t.strictSame((await call(app, '/api/incidents?status=open&limit=5')).body, { incidents: [] });
  const off = refusal(409, 'HT_ERR_ALERTING_DISABLED', 'conflict', 'alerting is off (enable_alerting: false / HTTP_TRACER_ANALYTICS_ENABLE_ALERTING=false): no rules, no incidents');
  for (const req of [
    { method: 'POST', url: '/api/alerts', headers: JSON_TYPE, payload: SEED_000_CREATE },
    { method: 'GET', url: '/api/alerts/alert_0123456789abcdef' },
    { method: 'PUT', url: '/api/alerts/alert_0123456789abcdef', headers: JSON_TYPE, payload: SEED_000_CREATE },
    { method: 'DELETE', url: '/api/alerts/alert_0123456789abcdef' },
    { method: 'POST', url: '/api/alerts/alert_0123456789abcdef/disable' },
    { method: 'GET', url: '/api/incidents/inc_0000000000000000' },
    { method: 'POST', url: '/api/incidents/inc_0000000000000000/acknowledge' },
    { method: 'POST', url: '/api/incidents/inc_0000000000000000/silence', payload: { duration: '1h' } },
  ] as InjectOptions[]) {
    t.strictSame(await outcome(app, req), off, `${req.method} ${req.url}: 409`);
  }
});

t.test('a restart on the same database: the API rule, the open incident with its silence and history', async (t) => {
  const first = await setup(t);
  const rule = (await call(first.app, { method: 'POST', url: '/api/alerts', payload: { ...API_ERRORS, notification_channels: ['ops'], labels: { team: 'backend' } } })).body;
  first.alerting.evaluate(Date.now());
  const [opened] = (await call(first.app, '/api/incidents')).body.incidents;
  await call(first.app, post(`/api/incidents/${opened.id}/acknowledge`, { by: 'ann' }));
  const until = new Date(Date.now() + 7_200_000).toISOString();
  const silenced = (await call(first.app, post(`/api/incidents/${opened.id}/silence`, { until, by: 'ann', note: 'deploy' }))).body;
  const ruleBefore = (await call(first.app, `/api/alerts/${rule.id}`)).body;
  t.equal(ruleBefore.trigger_count, 1);
  await first.close();

  const second = await setup(t, { dir: first.dir });
  const ruleAfter = (await call(second.app, `/api/alerts/${rule.id}`)).body;
  t.strictSame(ruleAfter, { ...ruleBefore, state: 'inactive', instances: [] }, 'the API rule: every field, its activity (last_triggered, trigger_count); no instance yet');
  t.strictSame((await call(second.app, '/api/alerts')).body.alerts, [ruleAfter], 'listed');
  t.strictSame((await call(second.app, `/api/incidents/${opened.id}`)).body, silenced, 'the incident: acknowledged, silenced until then, its whole history');
  t.strictSame(
    silenced.history.map((h: { action: string; by: string }) => [h.action, h.by]),
    [['opened', 'alert'], ['acknowledged', 'ann'], ['silenced', 'ann']],
  );
  t.strictSame((await call(second.app, '/api/incidents?status=unresolved')).body.incidents, [silenced], 'unresolved after the restart');

  // Still failing: the alert fires again into the same incident, and the silence still holds its notifications.
  second.alerting.evaluate(Date.now());
  const refired = (await call(second.app, `/api/incidents/${opened.id}`)).body;
  t.equal(refired.status, 'acknowledged');
  t.equal(refired.silenced_until, until);
  t.strictSame(refired.history.at(-1).action, 'refired', 'joined, not a new incident');
  t.equal((await call(second.app, '/api/incidents')).body.incidents.length, 1);
  t.strictSame(second.notified, [], 'silenced: nothing sent');
  t.equal(second.events[0]?.type, 'alert_triggered', 'the dashboard still hears of it');
  t.equal((await call(second.app, `/api/alerts/${rule.id}`)).body.trigger_count, 2);
});

t.test('captured strings with control characters leave escaped in /api/alerts and /api/incidents', async (t) => {
  const { app, alerting } = await setup(t);
  const rule = (await call(app, { method: 'POST', url: '/api/alerts', payload: { name: 'errors by route', metric_name: 'http_errors_total', condition: '>', threshold: 0, group_by: ['service', 'route'] } })).body;
  alerting.evaluate(Date.now());
  const service = 'ev\\x1bil\\x07:81';
  const route = '/p\\x1b[2J';
  t.equal(alerting.rule(rule.id).instances.find((i) => i.labels.service === EVIL_SERVICE)?.labels.route, EVIL_ROUTE, 'held raw inside the agent');

  const alerts = await call(app, '/api/alerts');
  t.notMatch(alerts.raw, RAW_CONTROL, '/api/alerts: no raw control character');
  const evil = alerts.body.active.find((i: { labels: { service: string } }) => i.labels.service !== 'api:8080');
  t.strictSame(evil.labels, { service, route }, 'labels: \\x1b as text');
  t.equal(evil.message, `http_errors_total is 1 (> 0) (service ${service}, route ${route})`);
  const notice = alerts.body.history.find((h: { labels: { service: string } }) => h.labels.service !== 'api:8080');
  t.strictSame(notice.labels, { service, route, alertname: 'errors by route', node: 'node-1', severity: 'warning' }, 'history labels');
  t.match(notice.annotations.description, service);

  const incidents = await call(app, '/api/incidents');
  t.notMatch(incidents.raw, RAW_CONTROL, '/api/incidents: no raw control character');
  const incident = incidents.body.incidents.find((i: { labels: { service: string } }) => i.labels.service !== 'api:8080');
  t.strictSame(incident.labels, { service, route, alertname: 'errors by route', node: 'node-1', severity: 'warning' });
  t.equal(incident.message, `http_errors_total is 1 (> 0) (service ${service}, route ${route})`);
  const one = await call(app, `/api/incidents/${incident.id}`);
  t.notMatch(one.raw, RAW_CONTROL);
  t.strictSame(one.body.labels, incident.labels, 'GET one: escaped too');
  const ruleAnswer = await call(app, `/api/alerts/${rule.id}`);
  t.notMatch(ruleAnswer.raw, RAW_CONTROL);
  t.ok(ruleAnswer.body.instances.some((i: { labels: { route: string } }) => i.labels.route === route), 'GET /api/alerts/{id}: escaped too');
});
