/**
 * Queries that combine families. The error rate (seed 002, "Error Metrics
 * Processor"): failed exchanges over all exchanges, per group, in a window.
 */
import type { LabelMatcher, MetricStore } from './store';

export interface ErrorRateRow {
  labels: Record<string, string>;
  requests: number;
  requestsPerSecond: number;
  errors: number;
  /** errors / requests, 0 to 1. */
  errorRate: number;
  /** Failed exchanges per second. */
  errorsPerSecond: number;
}

/** `by` must name labels both families have: service, side, server_port, route. */
export function errorRates(store: MetricStore, windowMs: number, by: readonly string[] = ['service'], match: Record<string, LabelMatcher> = {}): ErrorRateRow[] {
  const key = (labels: Record<string, string>): string => by.map((l) => labels[l]).join('\u0000');
  const errors = new Map(store.window({ metric: 'http_errors_total', by, match }, windowMs).map((r) => [key(r.labels), r.summary]));
  return store.window({ metric: 'http_requests_total', by, match }, windowMs).map((r) => {
    const e = errors.get(key(r.labels));
    const failed = e?.value ?? 0;
    return { labels: r.labels, requests: r.summary.value, requestsPerSecond: r.summary.rate, errors: failed, errorRate: failed / r.summary.value, errorsPerSecond: e?.rate ?? 0 };
  });
}
