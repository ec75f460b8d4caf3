/**
 * The Go-template subset renderer the chart test relies on (./go-template.ts):
 * what it renders, as Go's text/template and Helm would, and that it refuses
 * what is outside the subset instead of rendering it wrongly.
 */
import t from 'tap';
import { renderTemplates } from './go-template';

const render = (source: string, context: unknown = {}, helpers = ''): string =>
  renderTemplates([{ name: '_helpers.tpl', source: helpers }, { name: 't.yaml', source }], context).get('t.yaml')!;

t.test('fields, trimming, comments', async (t) => {
  const ctx = { Values: { a: { b: 'x' }, n: 3, on: true }, Release: { Name: 'r' } };
  t.equal(render('name: {{ .Values.a.b }}-{{ .Release.Name }} {{ .Values.n }} {{ .Values.on }}', ctx), 'name: x-r 3 true');
  t.equal(render('a\n  {{- .Values.a.b }}\nb {{ .Values.a.b -}}  \n  c', ctx), 'ax\nb xc');
  t.equal(render('a{{/* gone */}}b {{- /* gone too */ -}} c', ctx), 'abc');
  t.equal(render('{{ "{{" }} $labels.x }}', ctx), '{{ $labels.x }}', 'a literal {{ for Prometheus templates');
});

t.test('if / else / range, with Go\'s truth', async (t) => {
  const cases: [unknown, string][] = [[true, 'y'], [false, 'n'], [0, 'n'], [1, 'y'], ['', 'n'], ['s', 'y'], [[], 'n'], [[0], 'y'], [{}, 'n'], [{ k: 1 }, 'y'], [null, 'n']];
  for (const [v, out] of cases) t.equal(render('{{ if .v }}y{{ else }}n{{ end }}', { v }), out, JSON.stringify(v));
  t.equal(render('{{- range .xs }}[{{ . }}]{{- end }}', { xs: ['a', 'b'] }), '[a][b]');
  t.equal(render('{{- range .m }}{{ .name }};{{- end }}', { m: { z: { name: 'z' }, a: { name: 'a' } } }), 'a;z;', 'maps in key order');
  t.equal(render('{{ range .xs }}{{ $.top }}{{ end }}', { xs: [1, 2], top: 'T' }), 'TT', '$ is the root inside range');
});

t.test('define / include and the functions', async (t) => {
  const helpers = '{{- define "name" -}}\n{{ .Values.n | default .Release.Name }}\n{{- end }}';
  t.equal(render('{{ include "name" . }}', { Values: { n: '' }, Release: { Name: 'rel' } }, helpers), 'rel', 'default when empty');
  t.equal(render('{{ include "name" . }}', { Values: { n: 'over' }, Release: { Name: 'rel' } }, helpers), 'over');
  t.equal(render('v: {{ .s | quote }}', { s: 'a "b"' }), 'v: "a \\"b\\""');
  t.equal(render('x:{{- toYaml .m | nindent 2 }}', { m: { b: [1, 2], a: 'x' } }), 'x:\n  a: x\n  b:\n  - 1\n  - 2', 'toYaml as go-yaml: keys sorted, lists not indented, no trailing newline');
  t.equal(render('{{ .m | toJson }}', { m: { b: '<&>', a: [1] } }), '{"a":[1],"b":"\\u003c\\u0026\\u003e"}', "toJson: keys sorted, HTML escaped as Go's encoding/json");
  t.equal(render('{{ "a\\nb" | indent 2 }}'), '  a\n  b');
  t.equal(render('{{ if true }}{{ false }}{{ end }}'), 'false', 'boolean literals');
});

t.test('outside the subset or a missing value: an error, never a silent empty string', async (t) => {
  t.throws(() => render('{{ .Values.missing }}', { Values: {} }), { message: 't.yaml: .Values.missing: no value "missing" (a missing value is an error here)' });
  t.throws(() => render('{{ .a | upper }}', { a: 'x' }), { message: 't.yaml: function upper is not in the template subset' });
  t.throws(() => render('{{ $x := 1 }}'), { message: 't.yaml: variable $x is not in the template subset' });
  t.throws(() => render('{{ .a .b }}', { a: 1, b: 2 }), { message: 't.yaml: {{ .a .b }}: a value cannot take arguments' });
  t.throws(() => render('{{ $labels.x }}'), { message: 't.yaml: variable $labels.x is not in the template subset' });
  t.throws(() => render('{{ if .a }}x{{ else if .b }}y{{ end }}', { a: 1, b: 1 }), { message: /"else if" \(not in the subset\)/ });
  t.throws(() => render('{{ if .a }}x', { a: 1 }), { message: 't.yaml: 1 block(s) not closed with {{end}}' });
  t.throws(() => render('{{ include "nope" . }}'), { message: 't.yaml: include of an undefined template "nope"' });
  t.throws(() => render('{{ .m }}', { m: { a: 1 } }), { message: 't.yaml: a map or list printed as is (use toYaml or toJson)' });
});
