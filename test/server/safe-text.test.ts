/**
 * The one escaping rule for captured strings leaving the agent, with real
 * control bytes: C0, DEL and C1 as \xNN, backslash doubled, the rest kept.
 */
import t from 'tap';
import { controlEscapingReplacer, escapeControl, escapedForJson, escapeForTerminal } from '../../src/server/safe-text';

t.test('escapeControl: C0, DEL, C1 and backslash; printable and other Unicode kept', async (t) => {
  t.equal(escapeControl('/users/42?q=1'), '/users/42?q=1');
  t.equal(escapeControl('\x1b[2J\x07\x00'), '\\x1b[2J\\x07\\x00');
  t.equal(escapeControl('a\x7fb\x80c\x9bd\x9f'), 'a\\x7fb\\x80c\\x9bd\\x9f');
  t.equal(escapeControl('\t\r\n'), '\\x09\\x0d\\x0a');
  t.equal(escapeControl('C:\\x1b'), 'C:\\\\x1b', 'a literal backslash is doubled, so \\x1b in the output always means the byte');
  t.equal(escapeControl('café ü 日本 \xa0'), 'café ü 日本 \xa0', 'Latin-1 letters, NBSP and other Unicode stay');
  const everyByte = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c)).join('');
  t.notMatch(escapeControl(everyByte), /[\x00-\x1f\x7f-\x9f]/, 'no byte value leaves a raw control character');
});

t.test('escapeForTerminal: everything non-ASCII too', async (t) => {
  t.equal(escapeForTerminal('ok /path?q=1'), 'ok /path?q=1');
  t.equal(escapeForTerminal('é\x1b\\'), '\\xe9\\x1b\\\\');
});

t.test('controlEscapingReplacer: every string value of a JSON document', async (t) => {
  const text = JSON.stringify({ route: '/a\x9b', rows: [{ service: 'p\x07:80', n: 1 }], ok: true }, controlEscapingReplacer);
  t.notMatch(text, /[\x00-\x1f\x7f-\x9f]|\\u00[01]/);
  t.same(JSON.parse(text), { route: '/a\\x9b', rows: [{ service: 'p\\x07:80', n: 1 }], ok: true });
});

t.test('escapedForJson: the value JSON.stringify(…, controlEscapingReplacer) would write, as a value (for schema serializers)', async (t) => {
  const doc = {
    route: '/a\x9b\\',
    rows: [{ service: 'p\x07:80', n: 1, rate: NaN, max: Infinity, gone: undefined, fn: () => 1 }, undefined, -Infinity],
    at: new Date(0),
    nested: { deeper: [['\x00']], ok: true, none: null },
  };
  const copy = escapedForJson(doc);
  t.equal(JSON.stringify(copy), JSON.stringify(doc, controlEscapingReplacer));
  t.same(copy, {
    route: '/a\\x9b\\\\',
    rows: [{ service: 'p\\x07:80', n: 1, rate: null, max: null }, null, null],
    at: '1970-01-01T00:00:00.000Z',
    nested: { deeper: [['\\x00']], ok: true, none: null },
  });
  t.equal(doc.route, '/a\x9b\\', 'the payload itself is left alone');
});
