/**
 * What an alert rule's `metric` names, and how it is read per group: the
 * derived RED names (through src/analytics/red.ts, the one RED definition)
 * and every store family, with `_rate` and, for histograms, percentiles.
 *
 *   "http_errors_total_rate" --resolveAlertMetric--> AlertMetric (family, labels, kind)
 *     --values(store, window, match, group_by, now)--> group key → { labels, value }
 *
 * One rule is one store query per evaluation (two for the error names, which
 * redRows answers from the failed and the whole duration histogram); a group
 * costs one map entry, nothing per series.
 */
import { FAMILIES, type MetricFamily } from '../analytics/families';
import { red, redRows, RED_METRIC, type Red } from '../analytics/red';
import type { HistogramSummary, MetricStore, Summary } from '../analytics/store';

/**
 * What the value is, which decides what a group without data counts as
 * (instance-state.ts): count, rate and fraction are 0 without traffic;
 * seconds and bytes (percentiles, mean, max) are unknown (NaN).
 */
export type AlertMetricKind = 'count' | 'rate' | 'fraction' | 'seconds' | 'bytes';

/** What alert evaluation reads of the store (a MetricStore, or the server's StoreReader). */
export type AlertStore = Pick<MetricStore, 'families' | 'window' | 'windowProblem'>;

export interface GroupValue {
  /** The group's labels (group_by → value). */
  labels: Record<string, string>;
  value: number;
}

export interface AlertMetric {
  /** The metric name as the rule gives it. */
  name: string;
  /** The store family read. */
  family: string;
  /** The labels a rule may match on and group by. */
  labels: readonly string[];
  /** The label naming the service (the family's): a rule groups by it unless it says otherwise. */
  serviceLabel: string;
  kind: AlertMetricKind;
  /**
   * The value per group over the window ending at nowMs; groups without a
   * value (NaN: a percentile with no exchange) are left out. The map and its
   * entries belong to the caller.
   */
  values(store: Pick<MetricStore, 'window'>, windowMs: number, match: Record<string, string>, groupBy: readonly string[], nowMs: number): Map<string, GroupValue>;
}

/** The group key: group_by values joined with NUL ('' for no group_by). */
export function groupKey(labels: Record<string, string>, groupBy: readonly string[]): string {
  let key = '';
  for (let i = 0; i < groupBy.length; i++) key += (i === 0 ? '' : '\u0000') + (labels[groupBy[i]] ?? '');
  return key;
}

const PERCENTILES = ['p50', 'p90', 'p95', 'p99'] as const;
const STATS = [...PERCENTILES, 'mean', 'max'] as const;
type Stat = (typeof STATS)[number];

/** RED names: labels of RED_METRIC but error_type (errors are selected through it). */
function redMetric(name: string, kind: AlertMetricKind, pick: (r: Red) => number, errors: boolean, families: readonly MetricFamily[]): AlertMetric | undefined {
  const family = families.find((f) => f.name === RED_METRIC);
  if (!family) return undefined;
  const labels = family.labels.filter((l) => l !== 'error_type');
  return {
    name,
    family: RED_METRIC,
    labels,
    serviceLabel: family.serviceLabel,
    kind,
    values(store, windowMs, match, groupBy, nowMs) {
      const out = new Map<string, GroupValue>();
      if (errors) {
        // Errors need the failed exchanges beside all of them: redRows, the one place that knows which they are.
        for (const row of redRows(store, windowMs, groupBy, match, nowMs)) put(out, row.labels, pick(row), groupBy);
      } else {
        for (const row of store.window({ metric: RED_METRIC, by: groupBy, match }, windowMs, nowMs)) put(out, row.labels, pick(red(row.summary as HistogramSummary, undefined)), groupBy);
      }
      return out;
    },
  };
}

function put(out: Map<string, GroupValue>, labels: Record<string, string>, value: number, groupBy: readonly string[]): void {
  if (!Number.isNaN(value)) out.set(groupKey(labels, groupBy), { labels, value });
}

function storeMetric(name: string, family: MetricFamily, kind: AlertMetricKind, pick: (s: Summary) => number): AlertMetric {
  return {
    name,
    family: family.name,
    labels: family.labels,
    serviceLabel: family.serviceLabel,
    kind,
    values(store, windowMs, match, groupBy, nowMs) {
      const out = new Map<string, GroupValue>();
      for (const row of store.window({ metric: family.name, by: groupBy, match }, windowMs, nowMs)) put(out, row.labels, pick(row.summary), groupBy);
      return out;
    },
  };
}

const unitKind = (family: MetricFamily): AlertMetricKind => (family.name.endsWith('_bytes') ? 'bytes' : 'seconds');

/** The RED names, in the order the error message lists them. */
const RED_NAMES: readonly [string, AlertMetricKind, (r: Red) => number, boolean][] = [
  ['http_requests_total', 'count', (r) => r.requests, false],
  ['http_requests_total_rate', 'rate', (r) => r.requestsPerSecond, false],
  ['http_errors_total', 'count', (r) => r.errors, true],
  ['http_errors_total_rate', 'rate', (r) => r.errorsPerSecond, true],
  ['error_rate', 'fraction', (r) => r.errorRate, true],
  ...PERCENTILES.map((p) => [`http_request_duration_histogram_${p}`, 'seconds', (r: Red) => r.latencySeconds[p], false] as [string, AlertMetricKind, (r: Red) => number, boolean]),
  ...STATS.map((s) => [`http_request_duration_seconds_${s}`, 'seconds', (r: Red) => r.latencySeconds[s], false] as [string, AlertMetricKind, (r: Red) => number, boolean]),
];

/**
 * Seed 000's examples name the API's own counters api_requests_total and
 * api_errors_total: on this agent those are the HTTP exchanges it sees, so
 * the names (and their _rate) are the RED ones.
 */
const SEED_000_ALIASES: readonly [string, string][] = [
  ['api_requests_total', 'http_requests_total'],
  ['api_errors_total', 'http_errors_total'],
];

/**
 * The metric a rule names, or why it is not one (listing the known forms).
 * `families`: the store's (plugins add theirs); default the built-in ones.
 * RED names come first: http_requests_total and http_errors_total are RED
 * counts (same identities as the counters of those names, read from the
 * duration histogram so that `method` can be matched on both).
 */
export function resolveAlertMetric(name: string, families: readonly MetricFamily[] = FAMILIES): AlertMetric | string {
  const alias = SEED_000_ALIASES.find(([seed]) => name === seed || name === `${seed}_rate`);
  if (alias) {
    const m = resolveAlertMetric(alias[1] + name.slice(alias[0].length), families);
    return typeof m === 'string' ? m : { ...m, name };
  }
  const redName = RED_NAMES.find(([n]) => n === name);
  if (redName) {
    const m = redMetric(name, redName[1], redName[2], redName[3], families);
    if (m) return m;
  }
  for (const family of families) {
    if (name === family.name) return storeMetric(name, family, 'count', (s) => s.value);
    if (name === `${family.name}_rate`) return storeMetric(name, family, 'rate', (s) => s.rate);
    if (family.kind === 'histogram' && name.startsWith(`${family.name}_`)) {
      const stat = name.slice(family.name.length + 1) as Stat;
      if (STATS.includes(stat)) return storeMetric(name, family, unitKind(family), (s) => (s as HistogramSummary)[stat]);
    }
  }
  const histograms = families.filter((f) => f.kind === 'histogram').map((f) => f.name);
  return (
    `${JSON.stringify(name)} is not a metric alerts can use (known: ${RED_NAMES.slice(0, 5)
      .map(([n]) => n)
      .join(', ')}, http_request_duration_histogram_{p50,p90,p95,p99}, http_request_duration_seconds_{p50,p90,p95,p99,mean,max}; ` +
    `any store metric, alone or with _rate: ${families.map((f) => f.name).join(', ')}; ` +
    `seed 000's api_requests_total and api_errors_total (the http_ ones); ` +
    `and for histograms (${histograms.join(', ')}) _p50, _p90, _p95, _p99, _mean, _max)`
  );
}
