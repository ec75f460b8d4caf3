/**
 * Incidents and their history, in the tables `incidents` and
 * `incident_history`. History is append-only: save() writes the incident's
 * row and only the entries beyond those already stored, all in one
 * transaction, so a crash leaves either the whole change or none of it.
 *
 * Values that may be NaN (no data) are stored as NULL and come back as NaN.
 * Optional fields that are undefined are NULL and come back absent.
 *
 * Ownership: the repository borrows the Database (see database.ts); the
 * incidents returned are fresh objects the caller owns.
 */
import type { Incident, IncidentEntry, IncidentRepository, IncidentStatus } from '../alerting/types';
import type { Database } from './database';

interface IncidentRow {
  id: string;
  rule_id: string;
  rule_name: string;
  key: string;
  labels_json: string;
  severity: Incident['severity'];
  status: IncidentStatus;
  opened_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
  silenced_until: number | null;
  value_at_open: number | null;
  last_value: number | null;
  message: string;
}

interface EntryRow {
  at: number;
  action: IncidentEntry['action'];
  by: string;
  note: string | null;
}

type IncidentParams = Omit<IncidentRow, 'value_at_open' | 'last_value'> & { value_at_open: number; last_value: number };

const COLUMNS = 'id, rule_id, rule_name, key, labels_json, severity, status, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, silenced_until, value_at_open, last_value, message';
const NEWEST_FIRST = 'ORDER BY opened_at DESC, rowid DESC';

export class SqliteIncidentRepository implements IncidentRepository {
  private readonly upsert;
  private readonly storedEntries;
  private readonly appendEntry;
  private readonly selectOne;
  private readonly selectEntries;
  private readonly selectUnresolved;
  private readonly selectList;
  private readonly saveTx;

  constructor(db: Database) {
    // An upsert keeps the row (and its history: INSERT OR REPLACE would delete it, cascading).
    this.upsert = db.prepare<[IncidentParams]>(
      `INSERT INTO incidents (${COLUMNS}) VALUES (${COLUMNS.split(', ').map((c) => `@${c}`).join(', ')})
       ON CONFLICT (id) DO UPDATE SET ${COLUMNS.split(', ')
         .filter((c) => c !== 'id')
         .map((c) => `${c} = excluded.${c}`)
         .join(', ')}`,
    );
    this.storedEntries = db.prepare<[string], number>('SELECT count(*) FROM incident_history WHERE incident_id = ?').pluck();
    this.appendEntry = db.prepare<[string, number, number, string, string, string | null]>('INSERT INTO incident_history (incident_id, seq, at, action, "by", note) VALUES (?, ?, ?, ?, ?, ?)');
    this.selectOne = db.prepare<[string], IncidentRow>(`SELECT ${COLUMNS} FROM incidents WHERE id = ?`);
    this.selectEntries = db.prepare<[string], EntryRow>('SELECT at, action, "by", note FROM incident_history WHERE incident_id = ? ORDER BY seq');
    this.selectUnresolved = db.prepare<[], IncidentRow>(`SELECT ${COLUMNS} FROM incidents WHERE status IN ('open', 'acknowledged') ORDER BY opened_at, rowid`);
    // One statement per filter combination, so that each can use its index.
    const list = (where: string) => db.prepare<[{ status?: string; ruleId?: string; limit: number }], IncidentRow>(`SELECT ${COLUMNS} FROM incidents ${where} ${NEWEST_FIRST} LIMIT @limit`);
    this.selectList = {
      all: list(''),
      status: list('WHERE status = @status'),
      rule: list('WHERE rule_id = @ruleId'),
      both: list('WHERE rule_id = @ruleId AND status = @status'),
    };
    this.saveTx = db.transaction((incident: Incident) => {
      this.upsert.run(toParams(incident));
      const stored = this.storedEntries.get(incident.id) ?? 0;
      for (let seq = stored; seq < incident.history.length; seq++) {
        const e = incident.history[seq];
        this.appendEntry.run(incident.id, seq, e.at, e.action, e.by, e.note ?? null);
      }
    });
  }

  save(incident: Incident): void {
    this.saveTx.immediate(incident);
  }

  get(id: string): Incident | undefined {
    const row = this.selectOne.get(id);
    return row && this.fromRow(row);
  }

  /** Newest first (by opened_at); ties in the order they were first saved, newest first. */
  list(filter: { status?: IncidentStatus; ruleId?: string; limit: number }): Incident[] {
    const { status, ruleId, limit } = filter;
    const statement = status !== undefined ? (ruleId !== undefined ? this.selectList.both : this.selectList.status) : ruleId !== undefined ? this.selectList.rule : this.selectList.all;
    const params: { status?: string; ruleId?: string; limit: number } = { limit };
    if (status !== undefined) params.status = status;
    if (ruleId !== undefined) params.ruleId = ruleId;
    return statement.all(params).map((row) => this.fromRow(row));
  }

  /** Open and acknowledged incidents, oldest first. */
  unresolved(): Incident[] {
    return this.selectUnresolved.all().map((row) => this.fromRow(row));
  }

  private fromRow(row: IncidentRow): Incident {
    const incident: Incident = {
      id: row.id,
      ruleId: row.rule_id,
      ruleName: row.rule_name,
      key: row.key,
      labels: JSON.parse(row.labels_json) as Record<string, string>,
      severity: row.severity,
      status: row.status,
      openedAt: row.opened_at,
      valueAtOpen: row.value_at_open ?? NaN,
      lastValue: row.last_value ?? NaN,
      message: row.message,
      history: this.selectEntries.all(row.id).map((e) => {
        const entry: IncidentEntry = { at: e.at, action: e.action, by: e.by };
        if (e.note !== null) entry.note = e.note;
        return entry;
      }),
    };
    if (row.acknowledged_at !== null) incident.acknowledgedAt = row.acknowledged_at;
    if (row.acknowledged_by !== null) incident.acknowledgedBy = row.acknowledged_by;
    if (row.resolved_at !== null) incident.resolvedAt = row.resolved_at;
    if (row.resolved_by !== null) incident.resolvedBy = row.resolved_by;
    if (row.silenced_until !== null) incident.silencedUntil = row.silenced_until;
    return incident;
  }
}

function toParams(i: Incident): IncidentParams {
  return {
    id: i.id,
    rule_id: i.ruleId,
    rule_name: i.ruleName,
    key: i.key,
    labels_json: JSON.stringify(i.labels),
    severity: i.severity,
    status: i.status,
    opened_at: i.openedAt,
    acknowledged_at: i.acknowledgedAt ?? null,
    acknowledged_by: i.acknowledgedBy ?? null,
    resolved_at: i.resolvedAt ?? null,
    resolved_by: i.resolvedBy ?? null,
    silenced_until: i.silencedUntil ?? null,
    // SQLite binds NaN as NULL; fromRow turns NULL back into NaN.
    value_at_open: i.valueAtOpen,
    last_value: i.lastValue,
    message: i.message,
  };
}
