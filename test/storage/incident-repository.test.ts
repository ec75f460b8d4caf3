/**
 * Incidents: every field round-trips (undefined stays undefined, NaN stays
 * NaN), history is appended, never rewritten, and comes back in order;
 * list filters and orders; a save that fails half-way leaves nothing of it.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Incident } from '../../src/alerting/types';
import { closeDatabase, openDatabase, type Database } from '../../src/storage/database';
import { SqliteIncidentRepository } from '../../src/storage/incident-repository';

const T0 = 1_800_000_000_000;

function open(t: Test): { dir: string; db: Database } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracer-incidents-'));
  const db = openDatabase(dir, '--data-dir');
  t.teardown(() => {
    closeDatabase(db);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, db };
}

function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'inc_0000000000000001',
    ruleId: 'alert_0123456789abcdef',
    ruleName: 'API errors',
    key: 'api:8080',
    labels: { service: 'api:8080', route: '/users/{id}' },
    severity: 'critical',
    status: 'open',
    openedAt: T0,
    valueAtOpen: 0.25,
    lastValue: 0.3,
    message: 'Error rate of api:8080 is 0.25',
    history: [{ at: T0, action: 'opened', by: 'alert' }],
    ...over,
  };
}

t.test('every field round-trips; optional fields absent stay absent', async (t) => {
  const { dir, db } = open(t);
  const repo = new SqliteIncidentRepository(db);
  const bare = incident();
  const full = incident({
    id: 'inc_0000000000000002',
    status: 'resolved',
    severity: 'info',
    acknowledgedAt: T0 + 1000,
    acknowledgedBy: 'alice',
    resolvedAt: T0 + 5000,
    resolvedBy: 'alert',
    silencedUntil: T0 + 3_600_000,
    valueAtOpen: Infinity,
    lastValue: -0.5,
    labels: {},
    message: 'ünïcode \u0000 and "quotes"',
    history: [
      { at: T0, action: 'opened', by: 'alert' },
      { at: T0 + 1000, action: 'acknowledged', by: 'alice', note: 'looking' },
      { at: T0 + 2000, action: 'silenced', by: 'api', note: '' },
      { at: T0 + 3000, action: 'unsilenced', by: 'api' },
      { at: T0 + 4000, action: 'refired', by: 'alert' },
      { at: T0 + 5000, action: 'resolved', by: 'alert' },
    ],
  });
  const nan = incident({ id: 'inc_0000000000000003', valueAtOpen: NaN, lastValue: NaN, openedAt: T0 - 1 });
  for (const i of [bare, full, nan]) repo.save(i);
  t.strictSame(repo.get(bare.id), bare);
  t.strictSame(Object.keys(repo.get(bare.id)!).sort(), Object.keys(bare).sort(), 'no undefined keys added');
  t.notOk('note' in repo.get(bare.id)!.history[0]);
  t.strictSame(repo.get(full.id), full);
  const n = repo.get(nan.id)!;
  t.ok(Number.isNaN(n.valueAtOpen) && Number.isNaN(n.lastValue), 'NaN (no data) comes back NaN');
  t.equal(repo.get('inc_missing'), undefined);

  closeDatabase(db);
  const again = openDatabase(dir, '--data-dir');
  t.teardown(() => closeDatabase(again));
  const reopened = new SqliteIncidentRepository(again);
  t.strictSame(reopened.get(full.id), full, 'the same after a reopen');
  t.strictSame(reopened.get(bare.id), bare);
});

t.test('save appends the history beyond what is stored, and updates the row in place', async (t) => {
  const { db } = open(t);
  const repo = new SqliteIncidentRepository(db);
  const i = incident();
  repo.save(i);
  repo.save(i);
  t.equal(db.prepare('SELECT count(*) FROM incident_history').pluck().get(), 1, 'saving again adds nothing');
  i.status = 'acknowledged';
  i.acknowledgedAt = T0 + 10;
  i.acknowledgedBy = 'bob';
  i.history.push({ at: T0 + 10, action: 'acknowledged', by: 'bob', note: 'mine' });
  repo.save(i);
  i.status = 'resolved';
  i.resolvedAt = T0 + 20;
  i.resolvedBy = 'alert';
  i.lastValue = 0.01;
  i.history.push({ at: T0 + 20, action: 'resolved', by: 'alert' });
  repo.save(i);
  t.strictSame(repo.get(i.id), i);
  t.same(db.prepare('SELECT seq, action FROM incident_history ORDER BY seq').all(), [
    { seq: 0, action: 'opened' },
    { seq: 1, action: 'acknowledged' },
    { seq: 2, action: 'resolved' },
  ]);
  t.equal(db.prepare('SELECT count(*) FROM incidents').pluck().get(), 1);
  // Clearing optional fields clears them.
  delete i.acknowledgedAt;
  delete i.acknowledgedBy;
  repo.save(i);
  t.strictSame(repo.get(i.id), i);
});

t.test('a save that fails half-way leaves nothing of itself', async (t) => {
  const { db } = open(t);
  const repo = new SqliteIncidentRepository(db);
  const i = incident();
  repo.save(i);
  const bad = structuredClone(i);
  bad.status = 'resolved';
  bad.history.push({ at: T0 + 1, action: 'resolved', by: 'alert' });
  bad.history.push({ at: T0 + 2, action: 'exploded' as never, by: 'alert' }); // the CHECK refuses it, after the row and one entry went in
  t.throws(() => repo.save(bad), /CHECK constraint failed/);
  t.strictSame(repo.get(i.id), i, 'neither the status nor the first new entry stayed');
  t.equal(db.inTransaction, false);
});

t.test('list: newest first, by status and rule, limited; unresolved: open and acknowledged, oldest first', async (t) => {
  const { db } = open(t);
  const repo = new SqliteIncidentRepository(db);
  const specs: [string, string, Incident['status'], number][] = [
    ['inc_a', 'rule_1', 'open', T0 + 1],
    ['inc_b', 'rule_1', 'resolved', T0 + 2],
    ['inc_c', 'rule_2', 'acknowledged', T0 + 3],
    ['inc_d', 'rule_2', 'resolved', T0 + 4],
    ['inc_e', 'rule_1', 'open', T0 + 5],
    ['inc_f', 'rule_2', 'open', T0 + 5], // same time as inc_e, saved after it
  ];
  for (const [id, ruleId, status, openedAt] of specs) repo.save(incident({ id, ruleId, status, openedAt }));
  const ids = (list: Incident[]) => list.map((i) => i.id);
  t.same(ids(repo.list({ limit: 100 })), ['inc_f', 'inc_e', 'inc_d', 'inc_c', 'inc_b', 'inc_a']);
  t.same(ids(repo.list({ limit: 2 })), ['inc_f', 'inc_e']);
  t.same(ids(repo.list({ status: 'open', limit: 100 })), ['inc_f', 'inc_e', 'inc_a']);
  t.same(ids(repo.list({ ruleId: 'rule_2', limit: 100 })), ['inc_f', 'inc_d', 'inc_c']);
  t.same(ids(repo.list({ ruleId: 'rule_1', status: 'resolved', limit: 100 })), ['inc_b']);
  t.same(ids(repo.list({ ruleId: 'nobody', limit: 100 })), []);
  t.same(ids(repo.unresolved()), ['inc_a', 'inc_c', 'inc_e', 'inc_f']);
  // An update does not move an incident in the order.
  repo.save(incident({ id: 'inc_e', ruleId: 'rule_1', status: 'resolved', openedAt: T0 + 5 }));
  t.same(ids(repo.list({ limit: 3 })), ['inc_f', 'inc_e', 'inc_d']);
  t.same(repo.list({ limit: 1 })[0].history, [{ at: T0, action: 'opened', by: 'alert' }], 'history with listed incidents');
});

t.test('the list uses the indexes', async (t) => {
  const { db } = open(t);
  const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
  t.match(plan("SELECT * FROM incidents WHERE status = 'open' ORDER BY opened_at DESC, rowid DESC LIMIT 10"), /USING INDEX incidents_by_status/);
  t.notMatch(plan("SELECT * FROM incidents WHERE status = 'open' ORDER BY opened_at DESC, rowid DESC LIMIT 10"), /TEMP B-TREE/);
  t.match(plan('SELECT * FROM incidents ORDER BY opened_at DESC, rowid DESC LIMIT 10'), /USING INDEX incidents_by_opened/);
  t.match(plan("SELECT * FROM incidents WHERE rule_id = 'r' ORDER BY opened_at DESC, rowid DESC LIMIT 10"), /USING INDEX incidents_by_rule/);
});
