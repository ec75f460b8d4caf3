/**
 * The command line as an operator expects it (issue 14): --version, help,
 * help COMMAND, COMMAND --help / -h, a bare call prints the help and fails
 * (it never starts an agent), unknown commands and options exit 2 with the
 * usage, and the diagnostics are JSON lines on stderr when it is not a
 * terminal, human lines when it is (through script(1), a real pty).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CaptureFileWriter } from '../../src/capture/capture-file';
import { COMMANDS } from '../../src/cli/commands';
import { BIN, fileSkipReason, run } from '../helpers/kernel';
import { batchOf, encodeExchange } from '../helpers/records';

const version = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
const cli = (...args: string[]) => run(process.execPath, [BIN, ...args], 20_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conventions-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'two.htcap');
const writer = new CaptureFileWriter(file, 0n);
writer.write(batchOf(encodeExchange({ comm: 'api', localPort: 8080, head: 'GET /a HTTP/1.1\r\n\r\n' }), encodeExchange({ comm: 'api', localPort: 8080, head: 'GET /b HTTP/1.1\r\n\r\n' })), 2);
writer.close();

t.test('--version: the package version, exit 0', async (t) => {
  const r = await cli('--version');
  t.same([r.code, r.stdout, r.stderr], [0, `http-tracer ${version}\n`, '']);
  const bad = await cli('--version', 'run');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^http-tracer: --version goes alone$/m);
});

t.test('help, --help, -h: every command listed, the exit codes, on stdout, exit 0', async (t) => {
  for (const args of [['help'], ['--help'], ['-h']]) {
    const r = await cli(...args);
    t.equal(r.code, 0, args.join(' '));
    t.equal(r.stderr, '');
    t.match(r.stdout, /^usage: http-tracer COMMAND \[options\]$/m);
    for (const c of COMMANDS) t.match(r.stdout, new RegExp(`^  ${c.synopsis.replace(/[[\]]/g, '\\$&')} +${c.summary.slice(0, 20).replace(/[?()]/g, '\\$&')}`, 'm'), `${args.join(' ')} lists ${c.name}`);
    t.match(r.stdout, /^exit codes:\n  0  .*\n  1  .*\n  2  usage/m);
  }
});

t.test('help COMMAND and COMMAND --help: that command\'s usage and options', async (t) => {
  const expected: Record<string, RegExp[]> = {
    run: [/^usage: http-tracer run \[options\]$/m, /--config FILE/, /--data-dir DIR/, /\/healthz and \/readyz/],
    demo: [/^usage: http-tracer demo \[options\]$/m, /127\.0\.0\.1:8090/],
    check: [/^usage: http-tracer check \[options\]$/m, /--json/],
    trace: [/^usage: http-tracer trace \[options\]$/m, /--port N\[,N\]/, /--duration-seconds N/],
    record: [/^usage: http-tracer record FILE \[options\]$/m],
    replay: [/^usage: http-tracer replay FILE \[options\]$/m, /--window DURATION/, /--top N/],
  };
  for (const [command, patterns] of Object.entries(expected)) {
    for (const args of [['help', command], [command, '--help'], [command, '-h']]) {
      const r = await cli(...args);
      t.equal(r.code, 0, args.join(' '));
      for (const p of patterns) t.match(r.stdout, p, `${args.join(' ')}: ${p}`);
      t.match(r.stdout, /--log-level LEVEL/);
      t.match(r.stdout, /^exit codes:$/m);
    }
  }
  const unknown = await cli('help', 'fly');
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /^http-tracer: help: unknown command "fly"$/m);
  t.match((await cli('help', 'replya')).stderr, /^http-tracer: help: unknown command "replya"; did you mean "replay"\?$/m);
});

t.test('no command: the help on stderr, exit 2, no agent', async (t) => {
  const started = Date.now();
  const r = await cli();
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^usage: http-tracer COMMAND \[options\]$/m);
  t.notMatch(r.stderr, /capturing|REST API http/);
  t.ok(Date.now() - started < 5000, 'at once');
});

t.test('unknown command, unknown option, an option of another command: exit 2, the message, then the usage', async (t) => {
  const cases: [string[], string, string][] = [
    [['fly'], 'unknown command "fly"', 'usage: http-tracer COMMAND [options]; "http-tracer help" for the commands'],
    [['tarce', '--port', '80'], 'unknown command "tarce"; did you mean "trace"?', 'usage: http-tracer COMMAND [options]; "http-tracer help" for the commands'],
    [['trace', '--bogus'], "Unknown option '--bogus'", 'usage: http-tracer trace [options]; "http-tracer help trace" for more'],
    [['check', '--port', '80'], '--port does not apply to check (see "http-tracer help check")', 'usage: http-tracer check [options]; "http-tracer help check" for more'],
    [['run', '--log-level', 'loud'], '--log-level "loud": expected one of fatal, error, warn, info, debug, trace, silent', 'usage: http-tracer run [options]; "http-tracer help run" for more'],
    [['replay', file, '--log-format', 'pretty'], '--log-format "pretty": expected one of json, text', 'usage: http-tracer replay FILE [options]; "http-tracer help replay" for more'],
    [['record'], 'record needs a FILE', 'usage: http-tracer record FILE [options]; "http-tracer help record" for more'],
  ];
  for (const [args, message, usage] of cases) {
    const r = await cli(...args);
    t.equal(r.code, 2, args.join(' '));
    const [first, second] = r.stderr.split('\n');
    t.ok(first.startsWith(`http-tracer: ${message}`), `${args.join(' ')}: ${first}`);
    t.equal(second, usage);
    t.equal(r.stdout, '');
  }
});

t.test('runtime failures exit 1: a file that is not a capture', async (t) => {
  const junk = path.join(dir, 'junk.htcap');
  fs.writeFileSync(junk, 'not a capture');
  const r = await cli('replay', junk);
  t.equal(r.code, 1);
  t.match(r.stderr, /^http-tracer: .*not a capture file/);
  t.notMatch(r.stderr, /usage:/, 'no usage for a runtime failure');
});

t.test('diagnostics: JSON lines on stderr (level, time, msg); stdout keeps the exchanges exactly', async (t) => {
  const r = await cli('replay', file);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\d\d:\d\d:\d\d\.\d{3} \d+\/api server 127\.0\.0\.1:\d+ GET \/a /);
  t.equal(r.stdout.trim().split('\n').length, 2, 'only the exchanges on stdout');
  const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: string; time: string; msg: string; records: number });
  t.equal(lines.length, 1);
  t.match(lines[0], { level: 'info', msg: `replayed 2 records in 1 frames from ${file}; 2 shown`, records: 2 });
  t.ok(Number.isFinite(Date.parse(lines[0].time)));

  const quiet = await run(process.execPath, [BIN, 'replay', file, '--log-level', 'warn'], 20_000);
  t.equal(quiet.stderr, '', '--log-level warn hides info');
  t.equal(quiet.stdout, r.stdout);
  const env = spawnSync(process.execPath, [BIN, 'replay', file], { env: { ...process.env, HTTP_TRACER_LOG_LEVEL: 'error' }, encoding: 'utf8' });
  t.equal(env.stderr, '', 'HTTP_TRACER_LOG_LEVEL=error hides info');
  const text = spawnSync(process.execPath, [BIN, 'replay', file, '--log-format', 'text'], { encoding: 'utf8' });
  t.match(text.stderr, /^\d\d:\d\d:\d\d\.\d{3} INFO  replayed 2 records in 1 frames from \S+; 2 shown\n$/);
});

t.test('on a terminal (a pty through script(1)): human lines', { skip: fileSkipReason('/usr/bin/script', 'util-linux') }, async (t) => {
  // stdout to a file, stderr to the pty script gives the command.
  const out = path.join(dir, 'stdout.txt');
  const command = `${process.execPath} ${BIN} replay ${file} >${out}`;
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 0, r.stderr);
  const line = r.stdout.replace(/\r/g, '').trim();
  t.match(line, /^\d\d:\d\d:\d\d\.\d{3} INFO  replayed 2 records in 1 frames from \S+; 2 shown$/);
  t.equal(fs.readFileSync(out, 'utf8').trim().split('\n').length, 2, 'the exchanges on stdout, untouched');
});
