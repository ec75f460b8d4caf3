/**
 * Prometheus Alertmanager's API v2: `POST /api/v2/alerts` with an array of
 * postable alerts. Alertmanager deduplicates on the label set, so labels
 * hold only what identifies the alert (alertname, node, the rule's labels,
 * severity, the group labels); the rest goes in annotations.
 *
 * Timing, as Prometheus does it: a firing alert's endsAt is 4 resend
 * intervals after sending, so Alertmanager resolves it by itself only if the
 * agent stops re-sending; a resolve carries the time it resolved.
 *
 * Alertmanager refuses a whole request for one alert it finds invalid (and
 * still keeps the valid ones), as measured with 0.25: a label or annotation
 * name outside [a-zA-Z_][a-zA-Z0-9_]*, a value that is not a string, no
 * labels, endsAt before startsAt. So names are made valid here, values are
 * strings, endsAt never precedes startsAt. Empty label values are dropped
 * (Alertmanager drops them too: an empty value is no label in Prometheus).
 */
import type { Notification } from '../types';
import type { FormattedBatch } from './format';

export const ALERTMANAGER_ALERTS_PATH = '/api/v2/alerts';

/** How many resend intervals a firing alert stays valid without being re-sent (Prometheus: 4). */
export const RESEND_INTERVALS_VALID = 4;

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

export function formatAlertmanager(batch: readonly Notification[], sentAtMs: number, resendIntervalMs: number): FormattedBatch<PostableAlert[]> {
  return { suffix: ALERTMANAGER_ALERTS_PATH, body: batch.map((n) => postable(n, sentAtMs, resendIntervalMs)) };
}

function postable(n: Notification, sentAtMs: number, resendIntervalMs: number): PostableAlert {
  const { notice } = n;
  const labels = validNames(notice.labels, true);
  labels.alertname ||= notice.name || notice.rule_id;
  labels.severity ||= notice.severity;
  const startsAtMs = timeOr(notice.starts_at, sentAtMs);
  const endsAtMs = n.status === 'resolved' ? timeOr(notice.ends_at, sentAtMs) : sentAtMs + RESEND_INTERVALS_VALID * resendIntervalMs;
  return {
    labels,
    annotations: validNames(notice.annotations, false),
    startsAt: new Date(startsAtMs).toISOString(),
    endsAt: new Date(Math.max(endsAtMs, startsAtMs)).toISOString(),
    generatorURL: notice.generator_url,
  };
}

const VALID_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Prometheus's rule for names: other characters become "_", a leading digit gets one in front. The first of two names that end up the same wins. */
export function labelName(name: string): string {
  if (VALID_NAME.test(name)) return name;
  const replaced = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(replaced) || replaced === '' ? `_${replaced}` : replaced;
}

function validNames(from: Record<string, unknown> | undefined, dropEmpty: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(from ?? {})) {
    const value = raw === undefined || raw === null ? '' : String(raw);
    if (dropEmpty && value === '') continue;
    const valid = labelName(name);
    if (!(valid in out)) out[valid] = value;
  }
  return out;
}

function timeOr(iso: string | undefined, fallbackMs: number): number {
  const ms = iso === undefined ? NaN : Date.parse(iso);
  return Number.isFinite(ms) ? ms : fallbackMs;
}
