/**
 * Rules created through the API: every field round-trips through the
 * database and a reopen; replacing a rule keeps its activity; delete says
 * whether a row went.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AlertRule } from '../../src/alerting/types';
import { closeDatabase, openDatabase, type Database } from '../../src/storage/database';
import { SqliteRuleRepository } from '../../src/storage/rule-repository';

function open(t: Test): { dir: string; db: Database } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracer-rules-'));
  const db = openDatabase(dir, '--data-dir');
  t.teardown(() => {
    closeDatabase(db);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, db };
}

function rule(over: Partial<AlertRule> = {}): AlertRule {
  return {
    id: 'alert_0123456789abcdef',
    name: 'API errors',
    metric: 'error_rate',
    alertType: 'threshold',
    condition: 'gt',
    threshold: 0.05,
    durationSeconds: 120,
    windowSeconds: 300,
    match: { service: 'api:8080', side: 'server' },
    groupBy: ['service', 'route'],
    severity: 'critical',
    description: 'Error rate of {service} is {value}',
    labels: { team: 'payments', 'é': 'ü' },
    annotations: { summary: '{name} above {threshold}', runbook: 'https://runbooks.example/api' },
    notificationChannels: ['alertmanager', 'ops-webhook'],
    sensitivity: 2.5,
    enabled: false,
    source: 'api',
    createdAt: 1_800_000_000_000,
    updatedAt: 1_800_000_060_000,
    ...over,
  };
}

t.test('every field round-trips, also across a reopen; a new rule has no activity', async (t) => {
  const { dir, db } = open(t);
  const repo = new SqliteRuleRepository(db);
  t.same(repo.list(), []);
  const a = rule();
  const b = rule({ id: 'alert_fedcba9876543210', name: 'Slow', alertType: 'anomaly', match: {}, groupBy: [], labels: {}, annotations: {}, notificationChannels: [], enabled: true, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000 });
  repo.save(a);
  repo.save(b);
  const listed = repo.list();
  t.strictSame(listed, [
    { rule: b, activity: { triggerCount: 0 } },
    { rule: a, activity: { triggerCount: 0 } },
  ], 'oldest first, exact objects');
  t.notOk('lastTriggeredAt' in listed[0].activity, 'never triggered: no lastTriggeredAt key at all');

  closeDatabase(db);
  const again = openDatabase(dir, '--data-dir');
  t.teardown(() => closeDatabase(again));
  t.strictSame(new SqliteRuleRepository(again).list().map((r) => r.rule), [b, a]);
});

t.test('activity is saved apart; replacing the rule keeps it; a rule not stored is ignored', async (t) => {
  const { db } = open(t);
  const repo = new SqliteRuleRepository(db);
  repo.save(rule());
  repo.saveActivity('alert_0123456789abcdef', { lastTriggeredAt: 1_800_000_100_000, triggerCount: 3 });
  repo.saveActivity('config_from_file', { lastTriggeredAt: 1, triggerCount: 1 });
  const changed = rule({ name: 'API errors (renamed)', threshold: 0.1, updatedAt: 1_800_000_200_000 });
  repo.save(changed);
  t.strictSame(repo.list(), [{ rule: changed, activity: { lastTriggeredAt: 1_800_000_100_000, triggerCount: 3 } }]);
  repo.saveActivity('alert_0123456789abcdef', { triggerCount: 0 });
  t.strictSame(repo.list()[0].activity, { triggerCount: 0 }, 'lastTriggeredAt back to undefined');
  t.equal(db.prepare('SELECT count(*) FROM rules').pluck().get(), 1);
});

t.test('delete says whether a row went', async (t) => {
  const { db } = open(t);
  const repo = new SqliteRuleRepository(db);
  repo.save(rule());
  t.equal(repo.delete('alert_0123456789abcdef'), true);
  t.equal(repo.delete('alert_0123456789abcdef'), false);
  t.equal(repo.delete('nothing'), false);
  t.same(repo.list(), []);
});
