/**
 * The README's configuration reference lists every configuration key and
 * every environment variable the agent reads: a key added to src/ without a
 * row here fails this test. Keys come from the key tree that refuses unknown
 * keys (config-keys.ts), the alert rule and notification target fields, and
 * the forwarding section's key lists; variables from every HTTP_TRACER_* name
 * and every `env.NAME` / `text('NAME')` read in src/.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CONFIG_FIELDS } from '../../src/alerting/rule-input';
import { ITEM_KEYS } from '../../src/alerting/notifiers/targets-config';
import { CONFIG_KEYS, type KeyTree } from '../../src/config/config-keys';

const ROOT = path.join(__dirname, '..', '..');
const SRC = path.join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** The keys and variables in code spans of the first column of the table under "## Configuration reference" (not options nor examples). */
function documented(): Set<string> {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Configuration reference\n');
  if (start < 0) throw new Error('README.md has no "## Configuration reference" section');
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1));
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const first = line.split(' | ')[0];
    for (const m of first.matchAll(/`([^`]+)`/g)) if (/^output\.|^[A-Z][A-Z0-9_]+$/.test(m[1])) names.add(m[1]);
  }
  return names;
}

function leaves(tree: KeyTree, at: string): string[] {
  return Object.entries(tree).flatMap(([k, v]) => (v === true ? [`${at}${k}`] : leaves(v, `${at}${k}.`)));
}

/** A `const NAME = ['a', 'b']` list of a source file (forwarding-config.ts keeps its keys so). */
function listIn(file: string, name: string): string[] {
  const m = new RegExp(`const ${name} = \\[([^\\]]*)\\]`).exec(fs.readFileSync(path.join(SRC, file), 'utf8'));
  if (!m) throw new Error(`${file}: no ${name} list`);
  return [...m[1].matchAll(/'([a-z_]+)'/g)].map((k) => k[1]);
}

function expectedKeys(): string[] {
  return [
    ...leaves(CONFIG_KEYS, ''),
    ...CONFIG_FIELDS.map((f) => `output.analytics.alert_rules[].${f}`),
    ...ITEM_KEYS.map((k) => `output.analytics.notifications[].${k}`),
    ...listIn('exporters/forwarding-config.ts', 'SECTION_KEYS').map((k) => `output.forwarding.${k}`),
    ...listIn('exporters/forwarding-config.ts', 'TARGET_KEYS').map((k) => `output.forwarding.targets[].${k}`),
  ];
}

function expectedVariables(): string[] {
  const names = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    // Prefixes in prose ("HTTP_TRACER_FORWARD_*") end with "_": not variables.
    for (const m of text.matchAll(/\bHTTP_TRACER_[A-Z0-9_]*[A-Z0-9]\b/g)) names.add(m[0]);
    for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)\b|\btext\('([A-Z][A-Z0-9_]+)'\)/g)) names.add(m[1] ?? m[2]);
  }
  return [...names].sort();
}

t.test('every configuration key of src/ has its row', async (t) => {
  const keys = expectedKeys();
  t.ok(keys.length >= 60, `${keys.length} keys found in src/`);
  t.ok(keys.includes('output.analytics.dashboard_port') && keys.includes('output.forwarding.targets[].queue_bytes'), 'the key lists were read');
  const rows = documented();
  t.same(keys.filter((k) => !rows.has(k)), [], 'keys missing from the README table');
});

t.test('every environment variable of src/ has its row', async (t) => {
  const variables = expectedVariables();
  t.ok(variables.length >= 28, `${variables.length} variables found in src/`);
  for (const v of ['HTTP_TRACER_LOG_LEVEL', 'HTTP_TRACER_DATA_DIR', 'WEBSOCKET_HEARTBEAT_INTERVAL', 'NODE_NAME']) t.ok(variables.includes(v), `${v} found`);
  const rows = documented();
  t.same(variables.filter((v) => !rows.has(v)), [], 'variables missing from the README table');
});

t.test('the table names nothing that src/ does not read', async (t) => {
  const known = new Set([...expectedKeys(), ...expectedVariables()]);
  t.same([...documented()].filter((n) => !known.has(n)), [], 'rows for keys or variables that do not exist');
});
