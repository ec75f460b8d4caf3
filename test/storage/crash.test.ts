/**
 * Nothing half-written after a crash: a child process commits one incident,
 * then, inside one open transaction, saves a new incident with a long
 * history and changes the committed one, with a page cache so small that
 * the uncommitted pages spill into the log file. It tells us, blocks before
 * COMMIT, and is SIGKILLed. Reopened, the database has the committed state
 * exactly and nothing of the killed transaction.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeDatabase, DATABASE_FILE, openDatabase } from '../../src/storage/database';
import { SqliteIncidentRepository } from '../../src/storage/incident-repository';

const ROOT = path.join(__dirname, '..', '..');

const CHILD = `
const fs = require('node:fs');
const { openDatabase } = require(${JSON.stringify(path.join(ROOT, 'src', 'storage', 'database'))});
const { SqliteIncidentRepository } = require(${JSON.stringify(path.join(ROOT, 'src', 'storage', 'incident-repository'))});
const db = openDatabase(process.argv[1], '--data-dir');
const repo = new SqliteIncidentRepository(db);
const committed = JSON.parse(process.argv[2]);
repo.save(committed);
fs.writeSync(1, 'committed\\n');

db.pragma('cache_size = 4'); // pages: the transaction below cannot stay in memory
db.exec('BEGIN IMMEDIATE');
const history = [{ at: 1, action: 'opened', by: 'alert' }];
for (let i = 0; i < 3000; i++) history.push({ at: 2 + i, action: i % 2 ? 'silenced' : 'unsilenced', by: 'api', note: 'x'.repeat(200) });
repo.save({ ...committed, id: 'inc_uncommitted', history });
repo.save({ ...committed, status: 'resolved', resolvedAt: 99, resolvedBy: 'alert', history: [...committed.history, { at: 99, action: 'resolved', by: 'alert' }] });
fs.writeSync(1, 'in-transaction ' + fs.statSync(process.argv[1] + '/${DATABASE_FILE}-wal').size + '\\n');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // never COMMIT
`;

t.test('SIGKILL inside a transaction: reopened, only what was committed is there', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracer-crash-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const committed = {
    id: 'inc_committed',
    ruleId: 'alert_0123456789abcdef',
    ruleName: 'API errors',
    key: 'api:8080',
    labels: { service: 'api:8080' },
    severity: 'critical',
    status: 'acknowledged',
    openedAt: 1_800_000_000_000,
    acknowledgedAt: 1_800_000_001_000,
    acknowledgedBy: 'alice',
    valueAtOpen: 0.25,
    lastValue: 0.3,
    message: 'Error rate of api:8080 is 0.25',
    history: [
      { at: 1_800_000_000_000, action: 'opened', by: 'alert' },
      { at: 1_800_000_001_000, action: 'acknowledged', by: 'alice', note: 'on it' },
    ],
  };

  const child = spawn(process.execPath, [...process.execArgv.filter((a) => a.includes('typescript')), '-e', CHILD, dir, JSON.stringify(committed)], {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('in-transaction')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before its transaction: ${stdout} ${stderr}`)));
  });
  const walBytes = Number(/in-transaction (\d+)/.exec(stdout)![1]);
  t.ok(walBytes > 100_000, `uncommitted pages spilled into the log (${walBytes} bytes)`);
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL');

  const db = openDatabase(dir, '--data-dir');
  t.teardown(() => closeDatabase(db));
  const repo = new SqliteIncidentRepository(db);
  t.strictSame(repo.get('inc_committed'), committed, 'the committed incident exactly as committed');
  t.equal(repo.get('inc_uncommitted'), undefined, 'nothing of the killed transaction');
  t.equal(db.prepare('SELECT count(*) FROM incident_history').pluck().get(), 2);
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
});
