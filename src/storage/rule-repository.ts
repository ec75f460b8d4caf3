/**
 * Rules created through the API, in the table `rules`: the whole rule as
 * JSON, with its activity (last triggered, trigger count) in columns of
 * their own so that evaluation can record activity without rewriting the
 * rule, and replacing the rule keeps the activity.
 *
 * Ownership: the repository borrows the Database (see database.ts); values
 * returned are fresh objects the caller owns.
 */
import type { AlertRule, RuleActivity, RuleRepository } from '../alerting/types';
import type { Database } from './database';

interface RuleRow {
  id: string;
  name: string;
  rule_json: string;
  created_at: number;
  updated_at: number;
  last_triggered_at: number | null;
  trigger_count: number;
}

export class SqliteRuleRepository implements RuleRepository {
  private readonly selectAll;
  private readonly upsert;
  private readonly updateActivity;
  private readonly remove;
  private readonly saveTx;

  constructor(db: Database) {
    this.selectAll = db.prepare<[], RuleRow>('SELECT * FROM rules ORDER BY created_at, id');
    // An upsert, not INSERT OR REPLACE: a replace would reset the activity columns.
    this.upsert = db.prepare<[string, string, string, number, number]>(
      `INSERT INTO rules (id, name, rule_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, rule_json = excluded.rule_json,
         created_at = excluded.created_at, updated_at = excluded.updated_at`,
    );
    this.updateActivity = db.prepare<[number | null, number, string]>('UPDATE rules SET last_triggered_at = ?, trigger_count = ? WHERE id = ?');
    this.remove = db.prepare<[string]>('DELETE FROM rules WHERE id = ?');
    this.saveTx = db.transaction((rule: AlertRule) => {
      this.upsert.run(rule.id, rule.name, JSON.stringify(rule), rule.createdAt, rule.updatedAt);
    });
  }

  /** Oldest first (creation order). */
  list(): { rule: AlertRule; activity: RuleActivity }[] {
    return this.selectAll.all().map((row) => {
      // The columns are the truth for what they hold; the JSON for the rest.
      const rule: AlertRule = { ...(JSON.parse(row.rule_json) as AlertRule), id: row.id, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at };
      const activity: RuleActivity = { triggerCount: row.trigger_count };
      if (row.last_triggered_at !== null) activity.lastTriggeredAt = row.last_triggered_at;
      return { rule, activity };
    });
  }

  save(rule: AlertRule): void {
    this.saveTx.immediate(rule);
  }

  /** A rule not stored (one from the configuration file) has no row: nothing happens. */
  saveActivity(ruleId: string, activity: RuleActivity): void {
    this.updateActivity.run(activity.lastTriggeredAt ?? null, activity.triggerCount, ruleId);
  }

  delete(id: string): boolean {
    return this.remove.run(id).changes > 0;
  }
}
