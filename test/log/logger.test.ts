/**
 * The logger: JSON lines with level, time and msg; the level filters; the
 * settings' precedence (option > variable > default) and their errors; the
 * human format and when it is chosen.
 */
import t from 'tap';
import { humanDestination, humanLine } from '../../src/log/human-format';
import { createLogger } from '../../src/log/logger';
import { defaultFormat, logSettings } from '../../src/log/settings';

function sink(): { lines: string[]; write(text: string): void } {
  const lines: string[] = [];
  return { lines, write: (text) => lines.push(...text.split('\n').filter((l) => l !== '')) };
}

t.test('JSON lines: level as a word, ISO time, msg, the fields; nothing below the level', async (t) => {
  const out = sink();
  const log = createLogger({ level: 'info', format: 'json' }, out);
  const before = Date.now();
  log.debug('hidden');
  log.info('capturing');
  log.warn({ target: 'mimir', error: 'HTTP 503' }, 'forwarding to mimir failing');
  log.error(new Error('boom'), 'engine failed');
  t.equal(out.lines.length, 3);
  const [info, warn, error] = out.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(Object.keys(info), ['level', 'time', 'msg'], 'no pid nor hostname');
  t.equal(info.level, 'info');
  t.equal(info.msg, 'capturing');
  t.match(info.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.ok(Date.parse(info.time as string) >= before - 1 && Date.parse(info.time as string) <= Date.now());
  t.same({ level: warn.level, target: warn.target, error: warn.error, msg: warn.msg }, { level: 'warn', target: 'mimir', error: 'HTTP 503', msg: 'forwarding to mimir failing' });
  t.equal(error.level, 'error');
  t.equal((error.err as { message: string }).message, 'boom');
});

t.test('settings: option over variable over default; bad values name their source', async (t) => {
  const tty = { isTTY: true };
  const pipe = {};
  t.same(logSettings({}, {}, pipe), { level: 'info', format: 'json' });
  t.same(logSettings({}, {}, tty), { level: 'info', format: 'text' });
  t.same(logSettings({}, { HTTP_TRACER_LOG_LEVEL: 'DEBUG', HTTP_TRACER_LOG_FORMAT: 'json' }, tty), { level: 'debug', format: 'json' });
  t.same(logSettings({ 'log-level': 'warn', 'log-format': 'text' }, { HTTP_TRACER_LOG_LEVEL: 'debug', HTTP_TRACER_LOG_FORMAT: 'json' }, pipe), { level: 'warn', format: 'text' });
  t.same(logSettings({}, { HTTP_TRACER_LOG_LEVEL: '' }, pipe), { level: 'info', format: 'json' }, 'an empty variable is unset');
  t.throws(() => logSettings({ 'log-level': 'loud' }, {}, pipe), { code: 'HT_ERR_USAGE', message: '--log-level "loud": expected one of fatal, error, warn, info, debug, trace, silent' });
  t.throws(() => logSettings({}, { HTTP_TRACER_LOG_LEVEL: 'loud' }, pipe), { code: 'HT_ERR_OPTION', message: 'HTTP_TRACER_LOG_LEVEL: "loud" must be one of fatal, error, warn, info, debug, trace, silent' });
  t.throws(() => logSettings({}, { HTTP_TRACER_LOG_FORMAT: 'pretty' }, pipe), { code: 'HT_ERR_OPTION', message: 'HTTP_TRACER_LOG_FORMAT: "pretty" must be one of json, text' });
});

t.test('the TTY decision: text only on a terminal', async (t) => {
  t.equal(defaultFormat({ isTTY: true }), 'text');
  t.equal(defaultFormat({ isTTY: false }), 'json');
  t.equal(defaultFormat({}), 'json');
});

t.test('human lines: clock time, level, the message (and an error\'s); control characters cannot reach the terminal', async (t) => {
  const time = new Date(2026, 11, 2, 16, 52, 7, 123).toISOString();
  t.equal(humanLine({ level: 'warn', time, msg: 'forwarding to mimir failing: HTTP 503', target: 'mimir', attempts: 3 }), '16:52:07.123 WARN  forwarding to mimir failing: HTTP 503');
  t.equal(humanLine({ level: 'error', time, msg: 'engine failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } }), '16:52:07.123 ERROR engine failed (boom)');
  t.equal(humanLine({ level: 'info', time, msg: 'evil \u001b[2J path\nnext' }), '16:52:07.123 INFO  evil \\u001b[2J path\\nnext');
  t.equal(humanLine({ level: 'info', time: 'not a time', msg: 'x' }), '--:--:--.--- INFO  x');

  const out = sink();
  const log = createLogger({ level: 'info', format: 'text' }, out);
  log.info({ attached: 14 }, 'capturing: 14/14 probes attached');
  t.equal(out.lines.length, 1);
  t.match(out.lines[0], /^\d\d:\d\d:\d\d\.\d{3} INFO  capturing: 14\/14 probes attached$/);
  const raw = sink();
  humanDestination(raw).write('not json\u001b]0;x\n');
  t.same(raw.lines, ['not json\\u001b]0;x'], 'a line that is not JSON passes, escaped');
});
