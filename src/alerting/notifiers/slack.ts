/**
 * Slack's incoming webhooks (https://api.slack.com/messaging/webhooks): a
 * message with a `text` (the notification line and the fallback where
 * attachments do not show) and one attachment per alert, coloured by
 * severity (green once resolved), titled and linked to the dashboard.
 *
 *   {"text": "[FIRING:1] API errors",
 *    "attachments": [{"fallback", "color", "title", "title_link", "text",
 *                     "fields": [{"title", "value", "short"}], "footer", "ts"}]}
 *
 * Slack reads &, < and > in text as markup: they are escaped. Repeats are
 * never sent here (the dispatcher routes them to Alertmanager only).
 */
import type { Notification, Severity } from '../types';
import { CONDITION_SYMBOL, formatValue } from '../template';
import type { FormattedBatch } from './format';

export interface SlackField {
  title: string;
  value: string;
  short: boolean;
}

export interface SlackAttachment {
  fallback: string;
  color: string;
  title: string;
  title_link: string;
  text: string;
  fields: SlackField[];
  footer: string;
  /** Unix seconds: when it fired, or resolved. */
  ts: number;
}

export interface SlackBody {
  text: string;
  attachments: SlackAttachment[];
}

/** Slack shows at most 100 attachments and advises far fewer: the dispatcher's batches for Slack stay at or below this. */
export const SLACK_BATCH_MAX = 20;

export const SEVERITY_COLOR: Record<Severity, string> = { critical: '#d0021b', error: '#f5a623', warning: '#f8e71c', info: '#4a90e2' };
export const RESOLVED_COLOR = '#2eb67d';

/** Labels every alert carries and the attachment shows elsewhere. */
const SHOWN_ELSEWHERE = new Set(['alertname', 'severity']);
/** Names listed in the text before they are cut. */
const NAMES_IN_TEXT = 5;

export function formatSlack(batch: readonly Notification[], _sentAtMs: number): FormattedBatch<SlackBody> {
  const firing = batch.filter((n) => n.status === 'firing').length;
  const resolved = batch.length - firing;
  const counts = [firing ? `FIRING:${firing}` : '', resolved ? `RESOLVED:${resolved}` : ''].filter(Boolean).join(' ');
  const names = [...new Set(batch.map((n) => n.notice.name))];
  const listed = names.slice(0, NAMES_IN_TEXT).join(', ') + (names.length > NAMES_IN_TEXT ? `, and ${names.length - NAMES_IN_TEXT} more` : '');
  return { suffix: '', body: { text: escape(`[${counts}] ${listed}`), attachments: batch.map(attachment) } };
}

function attachment(n: Notification): SlackAttachment {
  const a = n.notice;
  const state = n.status === 'firing' ? 'FIRING' : 'RESOLVED';
  const labels = Object.entries(a.labels)
    .filter(([k, v]) => !SHOWN_ELSEWHERE.has(k) && v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const fields: SlackField[] = [
    { title: 'Severity', value: a.severity, short: true },
    { title: 'Value', value: escape(`${Number.isNaN(a.value) ? 'no data' : formatValue(a.value)} (${CONDITION_SYMBOL[a.condition] ?? a.condition} ${formatValue(a.threshold)})`), short: true },
  ];
  if (labels) fields.push({ title: 'Labels', value: escape(labels), short: false });
  const at = Date.parse((n.status === 'resolved' && a.ends_at) || a.starts_at);
  return {
    fallback: escape(`[${state}] ${a.name}: ${a.message}`),
    color: n.status === 'resolved' ? RESOLVED_COLOR : (SEVERITY_COLOR[a.severity] ?? SEVERITY_COLOR.warning),
    title: escape(`[${state}] ${a.name}`),
    title_link: a.generator_url,
    text: escape(a.message),
    fields,
    footer: 'ebpf-http-tracer',
    ts: Number.isFinite(at) ? Math.floor(at / 1000) : 0,
  };
}

/** Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
