/**
 * The database schema as an ordered list of steps. `PRAGMA user_version`
 * holds how many steps a database has taken; each step runs in one
 * transaction together with the version bump, so a crash mid-migration
 * leaves the database at the step before, never half-way.
 *
 * Never edit a step that has shipped: append a new one. A database whose
 * user_version is beyond this list was written by a newer agent and is
 * refused (openDatabase), not guessed at.
 *
 * Times are Unix ms (INTEGER affinity). Values that may be NaN (no data)
 * are REAL and NULL when NaN: SQLite stores a bound NaN as NULL anyway.
 * The tables are not STRICT on purpose: a fractional time from a test
 * clock must round-trip, not fail a save in the middle of evaluation.
 */
import type { Database } from 'better-sqlite3';

export interface Migration {
  /** The user_version after this step (1, 2, …: its position in MIGRATIONS). */
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'rules, incidents and their history',
    sql: `
      -- Rules created through the API (rules from the configuration file are not stored).
      -- rule_json is the whole AlertRule; the columns beside it are for listing and activity.
      CREATE TABLE rules (
        id                TEXT PRIMARY KEY,
        name              TEXT NOT NULL,
        rule_json         TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        last_triggered_at INTEGER,
        trigger_count     INTEGER NOT NULL DEFAULT 0
      );

      -- rule_id is not a foreign key: incidents of configuration rules and of deleted rules stay.
      CREATE TABLE incidents (
        id              TEXT PRIMARY KEY,
        rule_id         TEXT NOT NULL,
        rule_name       TEXT NOT NULL,
        key             TEXT NOT NULL,
        labels_json     TEXT NOT NULL,
        severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
        status          TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
        opened_at       INTEGER NOT NULL,
        acknowledged_at INTEGER,
        acknowledged_by TEXT,
        resolved_at     INTEGER,
        resolved_by     TEXT,
        silenced_until  INTEGER,
        value_at_open   REAL,
        last_value      REAL,
        message         TEXT NOT NULL
      );
      CREATE INDEX incidents_by_status ON incidents (status, opened_at);
      CREATE INDEX incidents_by_opened ON incidents (opened_at);
      CREATE INDEX incidents_by_rule ON incidents (rule_id, opened_at);

      -- Append-only; seq is the entry's position in Incident.history (0, 1, …).
      CREATE TABLE incident_history (
        incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        at          INTEGER NOT NULL,
        action      TEXT NOT NULL CHECK (action IN ('opened', 'acknowledged', 'resolved', 'silenced', 'unsilenced', 'refired')),
        "by"        TEXT NOT NULL,
        note        TEXT,
        PRIMARY KEY (incident_id, seq)
      ) WITHOUT ROWID;
    `,
  },
];

/** The schema version this agent writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Applies the steps the database has not taken, each in its own IMMEDIATE
 * transaction (the write lock first, so two agents on one data directory
 * cannot both take a step). Returns the versions applied. Throws
 * `NewerSchemaError` when the database is beyond this agent.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const before = schemaVersion(db);
  if (before > migrations.length) throw new NewerSchemaError(before, migrations.length);
  const applied: number[] = [];
  for (const step of migrations) {
    const take = db.transaction(() => {
      const current = schemaVersion(db);
      if (current >= step.version) return false;
      if (current !== step.version - 1) throw new Error(`migration ${step.version} expects schema version ${step.version - 1}, found ${current}`);
      db.exec(step.sql);
      db.pragma(`user_version = ${step.version}`);
      return true;
    });
    if (take.immediate()) applied.push(step.version);
  }
  // Another agent may have moved the database on while we waited for the lock.
  const after = schemaVersion(db);
  if (after > migrations.length) throw new NewerSchemaError(after, migrations.length);
  return applied;
}

export class NewerSchemaError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`schema version ${found} is newer than this agent knows (${known})`);
    this.name = 'NewerSchemaError';
  }
}
