/**
 * The database under a data directory: created with its schema, reopened
 * unchanged, and every directory or file it cannot use refused with
 * HT_ERR_DATA_DIR naming how the user gave it and the path. Runs as root
 * too: what permission bits do not stop for root is tried as nobody.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { closeDatabase, DATABASE_FILE, openDatabase } from '../../src/storage/database';
import { MIGRATIONS, migrate, SCHEMA_VERSION, schemaVersion } from '../../src/storage/migrations';
import { TracerError } from '../../src/errors';

const ROOT = path.join(__dirname, '..', '..');

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracer-db-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function refusal(fn: () => unknown): TracerError {
  try {
    fn();
  } catch (e) {
    return e as TracerError;
  }
  throw new Error('expected a refusal');
}

t.test('a new directory: created 0700 with the database, WAL, foreign keys and every migration', async (t) => {
  const dataDir = path.join(tmpDir(t), 'a', 'b');
  const db = openDatabase(dataDir, '--data-dir');
  t.equal(fs.statSync(dataDir).mode & 0o777, 0o700);
  t.ok(fs.statSync(path.join(dataDir, DATABASE_FILE)).isFile());
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL');
  t.equal(db.pragma('foreign_keys', { simple: true }), 1);
  t.equal(db.pragma('busy_timeout', { simple: true }), 5000);
  t.equal(schemaVersion(db), SCHEMA_VERSION);
  t.equal(SCHEMA_VERSION, MIGRATIONS.length);
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
  t.same(tables, ['incident_history', 'incidents', 'incidents_by_opened', 'incidents_by_rule', 'incidents_by_status', 'rules']);
  db.prepare("INSERT INTO rules (id, name, rule_json, created_at, updated_at) VALUES ('alert_1', 'r', '{}', 1, 2)").run();
  closeDatabase(db);
  closeDatabase(db);
  t.notOk(db.open, 'closed, and a second close is harmless');
  t.notOk(fs.existsSync(path.join(dataDir, `${DATABASE_FILE}-wal`)), 'the log checkpointed into the file');

  // Reopened: nothing migrates again, the row is there.
  const again = openDatabase(dataDir, '--data-dir');
  t.equal(schemaVersion(again), SCHEMA_VERSION);
  t.equal(again.prepare('SELECT count(*) FROM rules').pluck().get(), 1);
  t.same(migrate(again), [], 'idempotent: no step taken twice');
  closeDatabase(again);
});

t.test('an existing directory keeps its mode; an empty database file is migrated', async (t) => {
  const dataDir = tmpDir(t);
  fs.chmodSync(dataDir, 0o750);
  fs.writeFileSync(path.join(dataDir, DATABASE_FILE), '');
  const db = openDatabase(dataDir, 'HTTP_TRACER_DATA_DIR');
  t.equal(fs.statSync(dataDir).mode & 0o777, 0o750);
  t.equal(schemaVersion(db), SCHEMA_VERSION);
  closeDatabase(db);
});

t.test('migrations: each step in one transaction with its version; a failing step leaves the step before', async (t) => {
  const db = new BetterSqlite3(':memory:');
  t.teardown(() => db.close());
  const steps = [
    { version: 1, description: 'one', sql: 'CREATE TABLE a (x INTEGER)' },
    { version: 2, description: 'two', sql: 'CREATE TABLE b (x INTEGER); CREATE TABLE a (y INTEGER)' }, // fails half-way
  ];
  t.throws(() => migrate(db, steps), /table a already exists/);
  t.equal(schemaVersion(db), 1);
  t.same(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all(), ['a'], 'table b rolled back with the failed step');
  t.same(migrate(db, [steps[0], { version: 2, description: 'two', sql: 'CREATE TABLE b (x INTEGER)' }]), [2]);
  t.equal(schemaVersion(db), 2);
});

t.test('a database from a newer agent is refused, untouched', async (t) => {
  const dataDir = tmpDir(t);
  const raw = new BetterSqlite3(path.join(dataDir, DATABASE_FILE));
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  const e = refusal(() => openDatabase(dataDir, '--data-dir'));
  t.equal(e.code, 'HT_ERR_DATA_DIR');
  t.equal(
    e.message,
    `--data-dir ${dataDir}: ${DATABASE_FILE} has schema version ${SCHEMA_VERSION + 1}, newer than this agent knows (${SCHEMA_VERSION}): it was written by a newer ebpf-http-tracer; run that version, or point --data-dir at another directory`,
  );
  const check = new BetterSqlite3(path.join(dataDir, DATABASE_FILE), { readonly: true });
  t.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
  t.equal(check.prepare("SELECT count(*) FROM sqlite_schema").pluck().get(), 0, 'no table created');
  check.close();
});

t.test('a file that is not a database is refused, and left as it was', async (t) => {
  const dataDir = tmpDir(t);
  const garbage = Buffer.alloc(8192, 'not a database ');
  fs.writeFileSync(path.join(dataDir, DATABASE_FILE), garbage);
  const e = refusal(() => openDatabase(dataDir, 'HTTP_TRACER_DATA_DIR'));
  t.equal(e.code, 'HT_ERR_DATA_DIR');
  t.equal(e.message, `HTTP_TRACER_DATA_DIR ${dataDir}: ${DATABASE_FILE} is damaged or not a SQLite database (SQLITE_NOTADB: file is not a database); move it aside to start with an empty database, or restore a backup`);
  t.same(fs.readFileSync(path.join(dataDir, DATABASE_FILE)), garbage);
});

t.test('the database path is a directory', async (t) => {
  const dataDir = tmpDir(t);
  fs.mkdirSync(path.join(dataDir, DATABASE_FILE));
  const e = refusal(() => openDatabase(dataDir, '--data-dir'));
  t.equal(e.code, 'HT_ERR_DATA_DIR');
  t.match(e.message, `--data-dir ${dataDir}: ${DATABASE_FILE} cannot be opened (`);
  t.match(e.message, /it must be a regular file the agent can read and write$/);
});

t.test('a data directory that is a file, or under a file', async (t) => {
  const file = path.join(tmpDir(t), 'plain');
  fs.writeFileSync(file, 'x');
  const asFile = refusal(() => openDatabase(file, '--data-dir'));
  t.equal(asFile.code, 'HT_ERR_DATA_DIR');
  t.equal(asFile.message, `--data-dir ${file}: is a file, not a directory; point it at a directory (it is created when missing)`);
  const under = refusal(() => openDatabase(path.join(file, 'db'), 'HTTP_TRACER_DATA_DIR'));
  t.equal(under.code, 'HT_ERR_DATA_DIR');
  t.equal(under.message, `HTTP_TRACER_DATA_DIR ${path.join(file, 'db')}: a part of the path is a file, not a directory; point it at a directory (it is created when missing)`);
});

t.test('a path under /proc is refused at once (recursive mkdir would loop there forever)', async (t) => {
  const e = refusal(() => openDatabase('/proc/ebpf-http-tracer-test/data', '--data-dir'));
  t.equal(e.code, 'HT_ERR_DATA_DIR');
  t.match(e.message, /^--data-dir \/proc\/ebpf-http-tracer-test\/data: cannot be created \(ENOENT/);
});

/**
 * openDatabase in a child process as `nobody` when this runs as root (root
 * writes through permission bits), as ourselves otherwise. Prints the
 * error's code and message, or "opened".
 */
function openAs(dataDir: string): { code: string; message: string } {
  const tsImport = process.execArgv.filter((a) => a.includes('typescript'));
  const script = `
    const { openDatabase, closeDatabase } = require(${JSON.stringify(path.join(ROOT, 'src', 'storage', 'database'))});
    try { closeDatabase(openDatabase(process.argv[1], '--data-dir')); console.log(JSON.stringify({ code: 'opened', message: '' })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const asRoot = process.geteuid?.() === 0;
  const r = spawnSync(process.execPath, [...tsImport, '-e', script, dataDir], {
    encoding: 'utf8',
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    timeout: 60_000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(line) as { code: string; message: string };
}

t.test('a directory the agent cannot write (as nobody when root)', async (t) => {
  const base = tmpDir(t);
  fs.chmodSync(base, 0o755);
  const readOnly = path.join(base, 'ro');
  fs.mkdirSync(readOnly, { mode: 0o555 });
  fs.chmodSync(readOnly, 0o555);
  t.same(openAs(readOnly), {
    code: 'HT_ERR_DATA_DIR',
    message: `--data-dir ${readOnly}: is not writable by the agent; give the user the agent runs as write access, or choose another directory`,
  });
  t.same(openAs(path.join(readOnly, 'sub')), {
    code: 'HT_ERR_DATA_DIR',
    message: `--data-dir ${path.join(readOnly, 'sub')}: cannot be created (permission denied); create it for the user the agent runs as, or choose another directory`,
  });
  // Writable directory, read-only database file.
  const dir = path.join(base, 'rw');
  fs.mkdirSync(dir, { mode: 0o777 });
  fs.chmodSync(dir, 0o777);
  closeDatabase(openDatabase(dir, '--data-dir'));
  fs.chmodSync(path.join(dir, DATABASE_FILE), 0o444);
  t.same(openAs(dir), {
    code: 'HT_ERR_DATA_DIR',
    message: `--data-dir ${dir}: ${DATABASE_FILE} cannot be written (SQLITE_READONLY: attempt to write a readonly database); give the user the agent runs as write access to it and to the directory`,
  }, 'SQLite would open it read-only without a word: the write probe finds out');
});

t.test('a read-only file system (a read-only tmpfs, where root may mount)', async (t) => {
  const mnt = tmpDir(t);
  const mounted = process.geteuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mnt]).status === 0;
  if (!mounted) {
    // Under CI=true (root) it must run; elsewhere the nobody test above covers unwritable directories.
    t.not(process.env.CI, 'true', 'under CI=true a read-only tmpfs can be mounted (root)');
    return;
  }
  t.teardown(() => void spawnSync('umount', [mnt]));
  const e = refusal(() => openDatabase(mnt, '--data-dir'));
  t.equal(e.message, `--data-dir ${mnt}: is on a read-only file system; choose a directory on a writable volume`);
  const under = refusal(() => openDatabase(path.join(mnt, 'x'), '--data-dir'));
  t.equal(under.message, `--data-dir ${path.join(mnt, 'x')}: cannot be created: the file system is read-only; choose a directory on a writable volume`);
});
