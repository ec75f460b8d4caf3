/** The seeds' alert examples, verbatim, for the tests of both rule shapes. */

/** Seed 002, "Alert Rules Configuration". */
export const SEED_002_RULES = [
  {
    name: 'high_error_rate',
    metric: 'http_errors_total_rate',
    condition: 'gt',
    threshold: 10.0,
    duration_seconds: 300,
    labels: { severity: 'warning', team: 'backend' },
    annotations: {
      description: 'HTTP error rate exceeded 10 errors/sec',
      runbook: 'https://wiki.company.com/runbooks/high-error-rate',
    },
  },
  {
    name: 'high_latency',
    metric: 'http_request_duration_histogram_p95',
    condition: 'gt',
    threshold: 1.0,
    duration_seconds: 180,
    labels: { severity: 'critical' },
    annotations: {
      description: '95th percentile latency exceeded 1 second',
    },
  },
];

/** Seed 000, "Create Alert" (api_errors_total: this agent's http_errors_total). */
export const SEED_000_BODY = {
  name: 'High Error Rate Alert',
  metric_name: 'api_errors_total',
  alert_type: 'threshold',
  threshold: 100,
  condition: '>',
  notification_channels: ['email', 'slack'],
};

/** The same, byte for byte as the seed writes it. */
export const SEED_000_CREATE = '{"name":"High Error Rate Alert","metric_name":"api_errors_total","alert_type":"threshold","threshold":100,"condition":">","notification_channels":["email","slack"]}';
