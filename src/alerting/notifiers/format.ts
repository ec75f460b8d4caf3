/**
 * What every notifier format produces: the request a batch becomes. The
 * formats are pure (alertmanager.ts, webhook.ts, slack.ts), so tests check
 * bodies exactly and the dispatcher only sends.
 */
import type { Notification, TargetKind } from '../types';
import { formatAlertmanager } from './alertmanager';
import { formatSlack } from './slack';
import { formatWebhook } from './webhook';

export interface FormattedBatch<Body = unknown> {
  /** Appended to the target's URL ('' for webhook and Slack, which post to the URL as given). */
  suffix: string;
  /** Sent as JSON. */
  body: Body;
}

export type Formatter = (batch: readonly Notification[], sentAtMs: number) => FormattedBatch;

export function formatterFor(kind: TargetKind, resendIntervalMs: number): Formatter {
  switch (kind) {
    case 'alertmanager':
      return (batch, sentAtMs) => formatAlertmanager(batch, sentAtMs, resendIntervalMs);
    case 'webhook':
      return formatWebhook;
    case 'slack':
      return formatSlack;
  }
}

/** The target's URL with the format's suffix: "http://am:9093/" + "/api/v2/alerts"; a URL that already ends with the suffix is kept. */
export function requestUrl(targetUrl: string, suffix: string): string {
  if (!suffix) return targetUrl;
  const base = targetUrl.replace(/\/+$/, '');
  return base.endsWith(suffix) ? base : base + suffix;
}
