/**
 * `helm template` for deploy/helm/ebpf-http-tracer, without Helm: values.yaml
 * merged with overrides as Helm merges them (maps key by key, anything else
 * replaced), the built-in objects the templates use, the templates rendered
 * by ./go-template.ts and split into Kubernetes objects.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { renderTemplates } from './go-template';
import { parseObjects, type K8sObject } from './k8s-schema';

export const CHART_DIR = path.join(__dirname, '..', '..', 'deploy', 'helm', 'ebpf-http-tracer');

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function merged(base: unknown, over: unknown): unknown {
  if (!isMap(base) || !isMap(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merged(base[k], v);
  return out;
}

export interface Rendered {
  objects: K8sObject[];
  notes: string;
}

export function renderChart(release: { name: string; namespace: string }, overrides: Record<string, unknown> = {}): Rendered {
  const chart = parse(fs.readFileSync(path.join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string };
  const values = merged(parse(fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8')), overrides);
  const dir = path.join(CHART_DIR, 'templates');
  const files = fs
    .readdirSync(dir)
    .sort()
    .map((name) => ({ name, source: fs.readFileSync(path.join(dir, name), 'utf8') }));
  const context = {
    Values: values,
    Release: { Name: release.name, Namespace: release.namespace, Service: 'Helm' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const out = renderTemplates(files, context);
  // As Helm: files starting with _ define helpers only, NOTES.txt is shown after install.
  const objects = [...out]
    .filter(([name]) => !name.startsWith('_') && name.endsWith('.yaml'))
    .flatMap(([name, text]) => text.split(/^---\s*$/m).flatMap((doc) => parseObjects(doc, `templates/${name}`)));
  return { objects, notes: out.get('NOTES.txt') ?? '' };
}
