/**
 * In-memory RuleRepository and IncidentRepository that behave as the SQLite
 * ones are specified to (src/alerting/types.ts): values are copied in and
 * out (nothing the caller keeps changes what is stored), incident history is
 * appended (entries beyond those stored), lists are newest first. They count
 * writes, so tests can check "one save per change", and can be told to fail.
 */
import type { AlertRule, Incident, IncidentRepository, IncidentStatus, RuleActivity, RuleRepository } from '../../src/alerting/types';

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryRuleRepository implements RuleRepository {
  readonly rows = new Map<string, { rule: AlertRule; activity: RuleActivity }>();
  saves = 0;
  activitySaves = 0;
  /** When set, every write throws it. */
  failWith: Error | undefined;

  list(): { rule: AlertRule; activity: RuleActivity }[] {
    return [...this.rows.values()].map(clone);
  }

  save(rule: AlertRule): void {
    if (this.failWith) throw this.failWith;
    this.saves++;
    const activity = this.rows.get(rule.id)?.activity ?? { triggerCount: 0 };
    this.rows.set(rule.id, { rule: clone(rule), activity });
  }

  saveActivity(ruleId: string, activity: RuleActivity): void {
    if (this.failWith) throw this.failWith;
    this.activitySaves++;
    const row = this.rows.get(ruleId);
    if (row) row.activity = clone(activity);
  }

  delete(id: string): boolean {
    if (this.failWith) throw this.failWith;
    return this.rows.delete(id);
  }
}

export class MemoryIncidentRepository implements IncidentRepository {
  /** In insertion order (the order incidents were opened). */
  readonly rows = new Map<string, Incident>();
  saves = 0;
  failWith: Error | undefined;

  save(incident: Incident): void {
    if (this.failWith) throw this.failWith;
    this.saves++;
    const stored = this.rows.get(incident.id);
    // As the SQLite one: the row is replaced, history only grows (entries beyond those stored are appended).
    const history = stored ? [...stored.history, ...incident.history.slice(stored.history.length)] : incident.history;
    this.rows.set(incident.id, clone({ ...incident, history }));
  }

  get(id: string): Incident | undefined {
    const row = this.rows.get(id);
    return row && clone(row);
  }

  list(filter: { status?: IncidentStatus; ruleId?: string; limit: number }): Incident[] {
    return [...this.rows.values()]
      .reverse() // ties: the later one first
      .filter((i) => (filter.status === undefined || i.status === filter.status) && (filter.ruleId === undefined || i.ruleId === filter.ruleId))
      .sort((a, b) => b.openedAt - a.openedAt)
      .slice(0, filter.limit)
      .map(clone);
  }

  unresolved(): Incident[] {
    return [...this.rows.values()].filter((i) => i.status !== 'resolved').map(clone);
  }
}
