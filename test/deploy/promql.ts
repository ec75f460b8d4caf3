/**
 * PromQL checks for deploy/'s alert rules and dashboard: the real `promtool`
 * (Debian's `prometheus` package, installed by scripts/setup.sh) parses and
 * tests them, and the metric names they read are compared with what the
 * agent's exporter really registers.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { FAMILIES } from '../../src/analytics/families';
import { MetricStore } from '../../src/analytics/store';
import { createExporter } from '../../src/exporters/prometheus';

const PROMTOOL = '/usr/bin/promtool';

/** Why the promtool tests cannot run here, or undefined. Under CI they always run: a missing promtool fails them. */
export function promtoolMissing(): string | undefined {
  if (fs.existsSync(PROMTOOL) || process.env.CI === 'true') return undefined;
  return `${PROMTOOL} is not installed (Debian package prometheus; bash scripts/setup.sh installs it)`;
}

export interface Run {
  status: number | null;
  output: string;
}

/** `promtool <args>` in a fresh directory holding `files` (name → content, YAML for objects). */
export function promtool(t: Test, args: string[], files: Record<string, unknown>): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promtool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : stringify(content));
  const r = spawnSync(PROMTOOL, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: r.stdout + r.stderr };
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names an expression reads: the identifiers left once strings,
 * label matchers, ranges and by/on clauses are cut out, but for functions
 * (followed by "(") and keywords.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?/g)].filter((m) => m[2] === undefined && !KEYWORDS.has(m[1].toLowerCase())).map((m) => m[1]);
  return [...new Set(names)].sort();
}

/**
 * Every metric name the agent's /metrics can serve, from its real exporter
 * (every optional group on: probes, alerting, forwarding), histograms with
 * their _bucket, _sum and _count series.
 */
export function exportedNames(): Set<string> {
  const store = new MetricStore({ families: FAMILIES, retentionMs: 3_600_000, limits: { perService: 100, global: 1000 }, now: () => 0 });
  const never = (): never => {
    throw new Error('not scraped: only the names are read');
  };
  const { registry } = createExporter({ store, health: { engineStats: never, captureStats: never, probes: [], alerting: never, forwarding: never } });
  const names = new Set<string>();
  for (const m of registry.getMetricsAsArray() as unknown as { name: string; type?: string }[]) {
    names.add(m.name);
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}
