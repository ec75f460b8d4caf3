/**
 * A renderer for the small subset of Go's text/template (with Helm's few
 * functions) that deploy/helm/ebpf-http-tracer uses, so the chart can be
 * rendered and checked where Helm cannot be installed. Anything outside the
 * subset is an error, so the chart cannot quietly grow past what is checked:
 *
 *   {{ .Values.a.b }}  {{ $.Values.x }}  {{ . }}       fields of the dot, or of the root ($)
 *   {{ .Release.Name }} {{ .Chart.Version }}          the objects renderChart() provides
 *   {{- x -}}  {{/* comment *\/}}                      whitespace trimming, comments
 *   if / else / end, range / end                      Go's truth: false, 0, "", nil, empty list or map are false
 *   define "name" / end, include "name" ctx           helpers (_helpers.tpl)
 *   | quote  | toYaml  | toJson  | indent N  | nindent N  | default X
 *
 * Stricter than Helm on purpose: a missing value (a typo in `.Values.x`) is
 * an error, not an empty string. toYaml and toJson sort map keys, toYaml
 * writes lists unindented under their key (as go-yaml) and toJson escapes
 * <, > and & (as Go's encoding/json).
 */
import { stringify } from 'yaml';

type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pipe: string }
  | { type: 'if'; pipe: string; then: Node[]; else: Node[] }
  | { type: 'range'; pipe: string; body: Node[] };

interface Scope {
  dot: unknown;
  root: unknown;
  defines: Map<string, Node[]>;
  where: string;
}

const ACTION = /\{\{(- )?([\s\S]*?)( -)?\}\}/g;

/** Text and actions, with the trim markers applied to the neighbouring text. */
function lex(source: string): { text: string; action?: string }[] {
  const parts: { text: string; action?: string }[] = [];
  let last = 0;
  let trimNext = false;
  for (const m of source.matchAll(ACTION)) {
    let text = source.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1]) text = text.replace(/\s+$/, '');
    parts.push({ text, action: m[2].trim() });
    trimNext = m[3] !== undefined;
    last = m.index! + m[0].length;
  }
  const tail = source.slice(last);
  parts.push({ text: trimNext ? tail.replace(/^\s+/, '') : tail });
  return parts;
}

/** The node tree of one file; its `define`s go to `defines`. */
function parse(source: string, where: string, defines: Map<string, Node[]>): Node[] {
  const top: Node[] = [];
  // Open blocks: the list being filled and how the block ends.
  const stack: { nodes: Node[]; close: (nodes: Node[]) => void; kind: string; node?: Node & { type: 'if' } }[] = [];
  let nodes = top;
  for (const part of lex(source)) {
    if (part.text !== '') nodes.push({ type: 'text', text: part.text });
    const a = part.action;
    if (a === undefined || /^\/\*[\s\S]*\*\/$/.test(a)) continue;
    const [, keyword, rest] = /^(if|else|end|range|define)\b\s*([\s\S]*)$/.exec(a) ?? [];
    if (keyword === undefined) {
      nodes.push({ type: 'action', pipe: a });
    } else if (keyword === 'if' || keyword === 'range') {
      const node: Node = keyword === 'if' ? { type: 'if', pipe: rest, then: [], else: [] } : { type: 'range', pipe: rest, body: [] };
      nodes.push(node);
      stack.push({ nodes, close: () => undefined, kind: keyword, node: node.type === 'if' ? node : undefined });
      nodes = node.type === 'if' ? node.then : node.body;
    } else if (keyword === 'define') {
      const name = stringLiteral(rest, where);
      const body: Node[] = [];
      stack.push({ nodes, close: (b) => defines.set(name, b), kind: 'define' });
      nodes = body;
    } else if (keyword === 'else') {
      const open = stack[stack.length - 1];
      if (open?.kind !== 'if' || rest !== '' || nodes === open.node!.else) throw new Error(`${where}: {{${a}}} outside an if, or "else if" (not in the subset)`);
      nodes = open.node!.else;
    } else {
      const open = stack.pop();
      if (!open) throw new Error(`${where}: {{end}} without a block`);
      open.close(nodes);
      nodes = open.nodes;
    }
  }
  if (stack.length > 0) throw new Error(`${where}: ${stack.length} block(s) not closed with {{end}}`);
  return top;
}

function stringLiteral(text: string, where: string): string {
  if (!/^"(?:[^"\\]|\\.)*"$/.test(text)) throw new Error(`${where}: expected a quoted name, got ${text}`);
  return JSON.parse(text) as string;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Go's truth (text/template `if`). */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return v !== false && v !== 0 && v !== '' && v !== null && v !== undefined;
}

/** Keys sorted at every depth, as Go marshals maps. */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (isMap(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
  return v;
}

function printed(v: unknown, where: string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') throw new Error(`${where}: a map or list printed as is (use toYaml or toJson)`);
  return String(v);
}

const indent = (n: number, s: string): string => ' '.repeat(n) + s.replace(/\n/g, '\n' + ' '.repeat(n));

type Fn = (scope: Scope, args: unknown[]) => unknown;

const FUNCTIONS: Record<string, Fn> = {
  include: (scope, [name, dot]) => {
    const body = scope.defines.get(name as string);
    if (!body) throw new Error(`${scope.where}: include of an undefined template ${JSON.stringify(name)}`);
    return run(body, { ...scope, dot });
  },
  default: (_scope, [fallback, value]) => (truthy(value) ? value : fallback),
  quote: (scope, [v]) => JSON.stringify(printed(v, scope.where)),
  toYaml: (_scope, [v]) => stringify(sorted(v), { lineWidth: 0, indentSeq: false }).replace(/\n$/, ''),
  toJson: (_scope, [v]) =>
    JSON.stringify(sorted(v))
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e')
      .replace(/&/g, '\\u0026'),
  indent: (_scope, [n, s]) => indent(n as number, s as string),
  nindent: (_scope, [n, s]) => '\n' + indent(n as number, s as string),
};

const TOKEN = /"(?:[^"\\]|\\.)*"|\$?[.A-Za-z_][\w.]*|\$|-?\d+(?:\.\d+)?|\S/g;

/** `.a.b` of the dot, `$.a.b` of the root; a missing key is an error. */
function field(token: string, scope: Scope): unknown {
  let v = token.startsWith('$') ? scope.root : scope.dot;
  const path = token.replace(/^\$/, '');
  if (path === '' || path === '.') return v;
  for (const key of path.slice(1).split('.')) {
    if (!isMap(v) || !(key in v)) throw new Error(`${scope.where}: ${token}: no value ${JSON.stringify(key)} (a missing value is an error here)`);
    v = v[key];
  }
  return v;
}

function operand(token: string, scope: Scope): unknown {
  if (token.startsWith('"')) return JSON.parse(token);
  if (/^\$\w/.test(token)) throw new Error(`${scope.where}: variable ${token} is not in the template subset`);
  if (token.startsWith('.') || token.startsWith('$')) return field(token, scope);
  if (/^-?\d/.test(token)) return Number(token);
  if (token === 'true' || token === 'false') return token === 'true';
  throw new Error(`${scope.where}: ${JSON.stringify(token)} is not in the template subset`);
}

/** One pipeline: `x | f a | g`, each command's result the last argument of the next. */
function evaluate(pipe: string, scope: Scope): unknown {
  let result: unknown;
  pipe.split(/\|(?=(?:[^"]*"[^"]*")*[^"]*$)/).forEach((command, i) => {
    const tokens: string[] = command.trim().match(TOKEN) ?? [];
    if (tokens.length === 0) throw new Error(`${scope.where}: empty command in {{ ${pipe} }}`);
    const head = tokens[0];
    const rest = tokens.slice(1);
    const fn = Object.hasOwn(FUNCTIONS, head) ? FUNCTIONS[head] : undefined;
    if (!fn) {
      if (/^[A-Za-z_]/.test(head) && head !== 'true' && head !== 'false') throw new Error(`${scope.where}: function ${head} is not in the template subset`);
      result = operand(head, scope);
      if (i > 0 || rest.length > 0) throw new Error(`${scope.where}: {{ ${pipe} }}: a value cannot take arguments`);
      return;
    }
    const args = rest.map((t) => operand(t, scope));
    result = fn(scope, i === 0 ? args : [...args, result]);
  });
  return result;
}

function run(nodes: Node[], scope: Scope): string {
  let out = '';
  for (const node of nodes) {
    if (node.type === 'text') out += node.text;
    else if (node.type === 'action') out += printed(evaluate(node.pipe, scope), scope.where);
    else if (node.type === 'if') out += run(truthy(evaluate(node.pipe, scope)) ? node.then : node.else, scope);
    else {
      const over = evaluate(node.pipe, scope);
      const items = Array.isArray(over) ? over : isMap(over) ? Object.keys(over).sort().map((k) => over[k]) : [];
      for (const dot of items) out += run(node.body, { ...scope, dot });
    }
  }
  return out;
}

export interface TemplateFile {
  name: string;
  source: string;
}

/**
 * Renders every file with `context` as the dot and the root; the `define`s
 * of all files are visible to all. Returns the output per file name.
 */
export function renderTemplates(files: readonly TemplateFile[], context: unknown): Map<string, string> {
  const defines = new Map<string, Node[]>();
  const trees = files.map((f) => ({ name: f.name, nodes: parse(f.source, f.name, defines) }));
  return new Map(trees.map((t) => [t.name, run(t.nodes, { dot: context, root: context, defines, where: t.name })]));
}
