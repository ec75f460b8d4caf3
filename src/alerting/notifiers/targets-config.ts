/**
 * Notification targets from the configuration file and the environment,
 * checked once at start-up (every refusal: HT_ERR_OPTION naming the key or
 * variable, the value and the reason).
 *
 *   output.analytics.notifications: [
 *     {"name": "ops", "type": "webhook", "url": "https://hooks.example/alerts",
 *      "headers": {"Authorization": "Bearer …"}, "timeout_seconds": 5},
 *     {"name": "am", "type": "alertmanager", "url": "http://alertmanager:9093"},
 *     {"name": "chat", "type": "slack", "url": "https://hooks.slack.com/services/…"}]
 *   HTTP_TRACER_ALERTMANAGER_URL   → {"name": "alertmanager", "type": "alertmanager"} (the base URL)
 *   HTTP_TRACER_ALERT_WEBHOOK_URL  → {"name": "webhook", "type": "webhook"}
 *   HTTP_TRACER_ALERT_SLACK_URL    → {"name": "slack", "type": "slack"}
 *
 * The environment wins over the file: a variable's target replaces a
 * configured one of the same name. Credentials in a URL (user:pass@) become
 * a Basic Authorization header (fetch refuses URLs that carry them).
 */
import { closestKey } from '../../config/config-keys';
import { httpTargetHeaders, httpTargetUrl } from '../../config/http-target';
import { fail, isObject, refuse } from '../../config/validate';
import type { TargetConfig, TargetKind } from '../types';

export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_SECONDS = 300;
const MIN_TIMEOUT_SECONDS = 0.1;

const KINDS: readonly TargetKind[] = ['alertmanager', 'webhook', 'slack'];
/** A notification target's keys (output.analytics.notifications[]). */
export const ITEM_KEYS = ['name', 'type', 'url', 'headers', 'timeout_seconds'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const TARGET_VARIABLES: readonly { variable: string; kind: TargetKind }[] = [
  { variable: 'HTTP_TRACER_ALERTMANAGER_URL', kind: 'alertmanager' },
  { variable: 'HTTP_TRACER_ALERT_WEBHOOK_URL', kind: 'webhook' },
  { variable: 'HTTP_TRACER_ALERT_SLACK_URL', kind: 'slack' },
];

/**
 * raw: output.analytics.notifications as the user wrote it (undefined: none);
 * where: how messages name it ("config FILE: output.analytics.notifications").
 */
export function notificationTargets(raw: unknown, where: string, env: NodeJS.ProcessEnv): TargetConfig[] {
  const targets: TargetConfig[] = [];
  if (raw !== undefined && raw !== null) {
    if (!Array.isArray(raw)) fail(where, raw, 'must be an array of targets ({"name", "type", "url"})');
    const seen = new Map<string, number>();
    (raw as unknown[]).forEach((item, i) => {
      const target = configuredTarget(item, `${where}[${i}]`);
      const before = seen.get(target.name);
      if (before !== undefined) fail(`${where}[${i}].name`, target.name, `is already the name of ${where}[${before}]; names must be unique`);
      seen.set(target.name, i);
      targets.push(target);
    });
  }
  for (const { variable, kind } of TARGET_VARIABLES) {
    const text = env[variable];
    if (text === undefined || text === '') continue;
    const target: TargetConfig = { name: kind, kind, timeoutMs: DEFAULT_TIMEOUT_MS, ...httpTargetUrl(variable, text) };
    const same = targets.findIndex((t) => t.name === kind);
    if (same >= 0) targets.splice(same, 1, target);
    else targets.push(target);
  }
  return targets;
}

function configuredTarget(item: unknown, at: string): TargetConfig {
  if (!isObject(item)) fail(at, item, `must be an object with ${ITEM_KEYS.map((k) => `"${k}"`).join(', ')}`);
  const o = item as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (ITEM_KEYS.includes(key)) continue;
    const near = closestKey(key, ITEM_KEYS);
    refuse(`${at}.${key}`, `is not a known key${near ? `; did you mean "${near}"?` : ''} (known here: ${ITEM_KEYS.join(', ')})`);
  }
  if (o.type === undefined) refuse(`${at}.type`, `is required: one of ${KINDS.join(', ')}`);
  if (!KINDS.includes(o.type as TargetKind)) fail(`${at}.type`, o.type, `must be one of ${KINDS.join(', ')}`);
  const kind = o.type as TargetKind;
  if (o.name === undefined) refuse(`${at}.name`, 'is required (rules name it in notification_channels)');
  if (typeof o.name !== 'string' || !NAME.test(o.name)) fail(`${at}.name`, o.name, 'must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit');
  const name = o.name as string;
  if (KINDS.includes(name as TargetKind) && name !== kind) fail(`${at}.name`, name, `is the name of a target type; ${kind === 'alertmanager' ? 'an' : 'a'} ${kind} target cannot take it (channels naming "${name}" mean every ${name} target)`);
  if (o.url === undefined) refuse(`${at}.url`, 'is required');
  const { url, headers: fromUrl } = httpTargetUrl(`${at}.url`, o.url);
  const headers = { ...fromUrl, ...httpTargetHeaders(`${at}.headers`, o.headers) };
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (o.timeout_seconds !== undefined) {
    const s = o.timeout_seconds;
    if (typeof s !== 'number' || !Number.isFinite(s) || s < MIN_TIMEOUT_SECONDS || s > MAX_TIMEOUT_SECONDS) {
      fail(`${at}.timeout_seconds`, s, `must be a number of seconds from ${MIN_TIMEOUT_SECONDS} to ${MAX_TIMEOUT_SECONDS}`);
    }
    timeoutMs = Math.round((s as number) * 1000);
  }
  return { name, kind, url, headers, timeoutMs };
}

/**
 * The URL as stats (/api/health, /metrics) show it: Alertmanager's base URL
 * without query; for webhook and Slack targets, whose path is often the
 * secret (hooks.slack.com/services/T…/B…/XXXX), the origin and the first
 * path segment only.
 */
export function shownUrl(target: Pick<TargetConfig, 'kind' | 'url'>): string {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return '(invalid URL)';
  }
  if (target.kind === 'alertmanager') return `${url.origin}${url.pathname === '/' ? '' : url.pathname}`;
  const segments = url.pathname.split('/').filter(Boolean);
  return `${url.origin}${segments.length ? `/${segments[0]}` : ''}${segments.length > 1 || url.search ? '/…' : ''}`;
}
