/**
 * The agent's one database: `<data dir>/http-tracer.db`, SQLite through
 * better-sqlite3 (synchronous: every call finishes before it returns, so a
 * repository method is one transaction and nothing is half-written).
 *
 *   openDatabase(dir, "--data-dir")
 *     mkdir -p (0700) → writable? → open → WAL, synchronous=FULL, busy_timeout,
 *     foreign_keys → migrations (one transaction each) → a write probe → Database
 *   any failure → TracerError HT_ERR_DATA_DIR "<where> <dir>: <what is wrong; what to do>"
 *
 * Durability: WAL with synchronous=FULL fsyncs the log at every commit. The
 * writes are rare (a rule created through the API, an incident changing
 * state), so that costs little, and what the API confirmed survives a power
 * loss, not only a crash of the agent (NORMAL would survive the crash only).
 *
 * Ownership: the caller (agent/agent.ts) owns the Database from open to
 * closeDatabase; repositories borrow it and must not be used after.
 */
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { TracerError } from '../errors';
import { migrate, NewerSchemaError, SCHEMA_VERSION } from './migrations';
import { errorText, prepareDataDirectory } from './data-dir';

export type Database = BetterSqlite3.Database;

export const DATABASE_FILE = 'http-tracer.db';

/** How long a statement waits for another process's write lock (another agent on the same directory) before failing. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating when needed) the database under dataDir and brings its
 * schema up to date. `where` is how the user named the directory
 * ("--data-dir", "HTTP_TRACER_DATA_DIR", "config FILE: …data_dir"), for messages.
 */
export function openDatabase(dataDir: string, where: string): Database {
  const problem = (what: string, cause?: unknown): TracerError =>
    new TracerError('HT_ERR_DATA_DIR', `${where} ${dataDir}: ${what}`, cause === undefined ? undefined : { cause });
  prepareDataDirectory(dataDir, problem);

  const file = path.join(dataDir, DATABASE_FILE);
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(file, { timeout: BUSY_TIMEOUT_MS });
    // The first statements read the file: a file that is not a database fails here.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    // SQLite opens a file it may not write read-only without a word; find out now, not at the first incident.
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    return db;
  } catch (e) {
    if (db?.open) db.close();
    throw problem(describeSqliteFailure(e, where), e);
  }
}

/** Checkpoints the log into the database file and closes. Idempotent. */
export function closeDatabase(db: Database): void {
  if (!db.open) return;
  try {
    // Leaves a single file behind (the -wal emptied), for backups and copies.
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // Busy (another process reading) or the disk failing: closing still works.
  }
  db.close();
}

function describeSqliteFailure(e: unknown, where: string): string {
  if (e instanceof NewerSchemaError) {
    return `${DATABASE_FILE} has schema version ${e.found}, newer than this agent knows (${e.known}): it was written by a newer ebpf-http-tracer; run that version, or point ${where} at another directory`;
  }
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return `${DATABASE_FILE} is damaged or not a SQLite database (${errorText(e)}); move it aside to start with an empty database, or restore a backup`;
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM')) {
    return `${DATABASE_FILE} cannot be written (${errorText(e)}); give the user the agent runs as write access to it and to the directory`;
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return `${DATABASE_FILE} stayed locked for ${BUSY_TIMEOUT_MS / 1000} s (is another agent using this directory?); give each agent its own directory`;
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return `${DATABASE_FILE} cannot be opened (${errorText(e)}); it must be a regular file the agent can read and write`;
  }
  if (code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR')) {
    return `${DATABASE_FILE} cannot be written (${errorText(e)}); check the volume (full, failing)`;
  }
  return `${DATABASE_FILE} cannot be used (${errorText(e)})`;
}
