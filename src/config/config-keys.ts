/**
 * Every key the configuration file may hold, and the refusal of any other:
 * a typo such as `outptu` must stop start-up, not silently leave a default
 * in place. The message names the key where it stands and the closest known
 * key when one is near.
 */
import { isObject, refuse } from './validate';

/** An object's known keys; `true`: any value there (its owner validates it). */
export interface KeyTree {
  [key: string]: KeyTree | true;
}

export const ANALYTICS_KEYS: KeyTree = {
  // the engine
  buffer_size: true,
  worker_threads: true,
  flush_interval_seconds: true,
  window_sizes: true,
  retention_hours: true,
  enabled_metrics: true,
  route_patterns: true,
  max_series_per_service: true,
  max_series: true,
  max_services: true,
  series_idle_minutes: true,
  processors: true,
  duration_buckets_seconds: true,
  // the port
  enable_dashboard: true,
  dashboard_port: true,
  dashboard_address: true,
  metrics_endpoint: true,
  http_max_connections: true,
  // who may read, what captured data shows
  api_token_file: true,
  protect_reads: true,
  allowed_origins: true,
  redact_patterns: true,
  // the alerting engine's (validated there)
  enable_alerting: true,
  alert_rules: true,
  notifications: true,
  // the agent's database (alert rules, incidents)
  data_dir: true,
};

// output.forwarding: checked by src/exporters/forwarding-config.ts (its keys named there).
export const CONFIG_KEYS: KeyTree = { output: { enable_analytics: true, analytics: ANALYTICS_KEYS, forwarding: true } };

/** Edits (insert, delete, substitute, swap two neighbours) from a to b. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known key nearest to `key`, if near enough to be a typo of it (a third of its letters at most). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const distance = editDistance(key.toLowerCase(), k);
    if (distance < bestDistance) [best, bestDistance] = [k, distance];
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * Throws HT_ERR_OPTION for the first key `tree` does not know, at any depth,
 * as "SOURCE: output.analytics.workers: is not a known key; did you mean
 * "worker_threads"? (known here: …)". Values of the wrong type are left to
 * the key's own check.
 */
export function refuseUnknownKeys(doc: unknown, source: string, tree: KeyTree = CONFIG_KEYS, at = ''): void {
  if (!isObject(doc)) return;
  const known = Object.keys(tree);
  for (const [key, value] of Object.entries(doc)) {
    const where = at ? `${at}.${key}` : key;
    const sub = tree[key];
    if (sub === undefined) {
      const near = closestKey(key, known);
      refuse(`${source}: ${where}`, `is not a known key${near ? `; did you mean "${near}"?` : ''} (known here: ${known.join(', ')})`);
    }
    if (sub !== true) refuseUnknownKeys(value, source, sub, where);
  }
}
