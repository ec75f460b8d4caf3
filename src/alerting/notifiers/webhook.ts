/**
 * The generic JSON webhook: one POST per batch,
 *
 *   {"version": "1", "source": "ebpf-http-tracer", "status": "firing" | "resolved",
 *    "alerts": [{...AlertNotice, "status", "fingerprint"}]}
 *
 * status is "firing" when any alert in the batch fires. The body holds no
 * send time, so a retried batch is byte for byte the one first sent.
 * Repeats are never sent here (the dispatcher routes them to Alertmanager only).
 */
import type { AlertNotice, Notification } from '../types';
import type { FormattedBatch } from './format';

export interface WebhookAlert extends AlertNotice {
  status: 'firing' | 'resolved';
  fingerprint: string;
}

export interface WebhookBody {
  version: '1';
  source: 'ebpf-http-tracer';
  status: 'firing' | 'resolved';
  alerts: WebhookAlert[];
}

export function formatWebhook(batch: readonly Notification[], _sentAtMs: number): FormattedBatch<WebhookBody> {
  return {
    suffix: '',
    body: {
      version: '1',
      source: 'ebpf-http-tracer',
      status: batch.some((n) => n.status === 'firing') ? 'firing' : 'resolved',
      alerts: batch.map((n) => ({ ...n.notice, status: n.status, fingerprint: n.fingerprint })),
    },
  };
}
