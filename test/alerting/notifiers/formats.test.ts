/**
 * The three notification formats, body for body: Alertmanager v2 postable
 * alerts, the generic webhook, Slack's incoming-webhook message.
 */
import t from 'tap';
import type { AlertNotice, Notification } from '../../../src/alerting/types';
import { formatAlertmanager, labelName } from '../../../src/alerting/notifiers/alertmanager';
import { formatterFor, requestUrl } from '../../../src/alerting/notifiers/format';
import { escape, formatSlack } from '../../../src/alerting/notifiers/slack';
import { formatWebhook } from '../../../src/alerting/notifiers/webhook';

const SENT = Date.parse('2026-12-02T10:00:00.000Z');

function notice(over: Partial<AlertNotice> = {}): AlertNotice {
  return {
    rule_id: 'alert_0123456789abcdef',
    name: 'API errors',
    metric: 'error_rate',
    severity: 'critical',
    state: 'firing',
    labels: { alertname: 'API errors', node: 'node-1', team: 'payments', severity: 'critical', service: 'api:8080' },
    annotations: { summary: 'API errors: error_rate is 0.25', description: 'Error rate of api:8080 is 0.25' },
    value: 0.25,
    threshold: 0.05,
    condition: 'gt',
    starts_at: '2026-12-02T09:58:00.000Z',
    message: 'Error rate of api:8080 is 0.25',
    incident_id: 'inc_00000000000000aa',
    generator_url: 'http://node-1:8080/#/alerts/alert_0123456789abcdef',
    ...over,
  };
}

const firing: Notification = { fingerprint: 'f1f1f1f1f1f1f1f1', status: 'firing', notice: notice(), channels: [], repeat: false };
const resolved: Notification = {
  fingerprint: 'f2f2f2f2f2f2f2f2',
  status: 'resolved',
  notice: notice({ name: 'Slow <orders>', severity: 'warning', state: 'resolved', ends_at: '2026-12-02T09:59:30.000Z', labels: { alertname: 'Slow <orders>', node: 'node-1', severity: 'warning', service: 'orders:9090', route: '' }, message: 'p95 of orders & co back to 0.1 < 0.5', value: 0.1, threshold: 0.5, condition: 'gte' }),
  channels: ['slack'],
  repeat: false,
};

t.test('Alertmanager: postable alerts; firing ends 4 resend intervals after sending, a resolve when it resolved', async (t) => {
  const out = formatAlertmanager([firing, resolved], SENT, 60_000);
  t.equal(out.suffix, '/api/v2/alerts');
  t.strictSame(out.body, [
    {
      labels: { alertname: 'API errors', node: 'node-1', team: 'payments', severity: 'critical', service: 'api:8080' },
      annotations: { summary: 'API errors: error_rate is 0.25', description: 'Error rate of api:8080 is 0.25' },
      startsAt: '2026-12-02T09:58:00.000Z',
      endsAt: '2026-12-02T10:04:00.000Z',
      generatorURL: 'http://node-1:8080/#/alerts/alert_0123456789abcdef',
    },
    {
      labels: { alertname: 'Slow <orders>', node: 'node-1', severity: 'warning', service: 'orders:9090' },
      annotations: { summary: 'API errors: error_rate is 0.25', description: 'Error rate of api:8080 is 0.25' },
      startsAt: '2026-12-02T09:58:00.000Z',
      endsAt: '2026-12-02T09:59:30.000Z',
      generatorURL: 'http://node-1:8080/#/alerts/alert_0123456789abcdef',
    },
  ]);
  t.equal(formatAlertmanager([firing], SENT, 15_000).body[0].endsAt, '2026-12-02T10:01:00.000Z', 'the resend interval is a parameter');
  t.equal(formatterFor('alertmanager', 30_000)([firing], SENT).body instanceof Array, true);
});

t.test('Alertmanager: what it would refuse is made valid (names, string values, endsAt not before startsAt)', async (t) => {
  const odd = notice({
    labels: { 'team-name': 'a', '1st': 'b', team_name: 'dup', n: 5 as unknown as string, empty: '' },
    annotations: { 'run-book': 'https://x', blank: '' },
    starts_at: '2026-12-02T10:05:00.000Z', // after the resolve time (clock skew)
    ends_at: '2026-12-02T10:00:00.000Z',
  });
  const [a] = formatAlertmanager([{ ...resolved, notice: odd }], SENT, 60_000).body;
  t.strictSame(a.labels, { team_name: 'a', _1st: 'b', n: '5', alertname: 'API errors', severity: 'critical' });
  t.strictSame(a.annotations, { run_book: 'https://x', blank: '' });
  t.equal(a.startsAt, '2026-12-02T10:05:00.000Z');
  t.equal(a.endsAt, '2026-12-02T10:05:00.000Z', 'never before startsAt (Alertmanager answers 400)');
  t.equal(labelName('ok_name9'), 'ok_name9');
  t.equal(labelName('é'), '_');
  t.equal(labelName(''), '_');
});

t.test('webhook: version, source, status of the batch, the notices with status and fingerprint', async (t) => {
  const out = formatWebhook([firing, resolved], SENT);
  t.equal(out.suffix, '');
  t.strictSame(out.body, {
    version: '1',
    source: 'ebpf-http-tracer',
    status: 'firing',
    alerts: [
      { ...firing.notice, status: 'firing', fingerprint: 'f1f1f1f1f1f1f1f1' },
      { ...resolved.notice, status: 'resolved', fingerprint: 'f2f2f2f2f2f2f2f2' },
    ],
  });
  t.equal(formatWebhook([resolved], SENT).body.status, 'resolved', 'resolved only when nothing in the batch fires');
  t.equal(JSON.stringify(formatWebhook([firing], SENT).body), JSON.stringify(formatWebhook([firing], SENT + 60_000).body), 'no send time: a retry is byte for byte the same');
  const nan = JSON.parse(JSON.stringify(formatWebhook([{ ...firing, notice: notice({ value: NaN }) }], SENT).body));
  t.equal(nan.alerts[0].value, null, 'no data: null in JSON');
});

t.test('Slack: text, one attachment per alert, colours, escaping', async (t) => {
  const out = formatSlack([firing, resolved], SENT);
  t.equal(out.suffix, '');
  t.strictSame(out.body, {
    text: '[FIRING:1 RESOLVED:1] API errors, Slow &lt;orders&gt;',
    attachments: [
      {
        fallback: '[FIRING] API errors: Error rate of api:8080 is 0.25',
        color: '#d0021b',
        title: '[FIRING] API errors',
        title_link: 'http://node-1:8080/#/alerts/alert_0123456789abcdef',
        text: 'Error rate of api:8080 is 0.25',
        fields: [
          { title: 'Severity', value: 'critical', short: true },
          { title: 'Value', value: '0.25 (&gt; 0.05)', short: true },
          { title: 'Labels', value: 'node=node-1, team=payments, service=api:8080', short: false },
        ],
        footer: 'ebpf-http-tracer',
        ts: Date.parse('2026-12-02T09:58:00.000Z') / 1000,
      },
      {
        fallback: '[RESOLVED] Slow &lt;orders&gt;: p95 of orders &amp; co back to 0.1 &lt; 0.5',
        color: '#2eb67d',
        title: '[RESOLVED] Slow &lt;orders&gt;',
        title_link: 'http://node-1:8080/#/alerts/alert_0123456789abcdef',
        text: 'p95 of orders &amp; co back to 0.1 &lt; 0.5',
        fields: [
          { title: 'Severity', value: 'warning', short: true },
          { title: 'Value', value: '0.1 (&gt;= 0.5)', short: true },
          { title: 'Labels', value: 'node=node-1, service=orders:9090', short: false },
        ],
        footer: 'ebpf-http-tracer',
        ts: Date.parse('2026-12-02T09:59:30.000Z') / 1000,
      },
    ],
  });
  const many = Array.from({ length: 7 }, (_, i) => ({ ...firing, notice: notice({ name: `rule ${i}` }) }));
  t.equal(formatSlack(many, SENT).body.text, '[FIRING:7] rule 0, rule 1, rule 2, rule 3, rule 4, and 2 more');
  const noData = formatSlack([{ ...firing, notice: notice({ value: NaN, severity: 'info', labels: {} }) }], SENT).body.attachments[0];
  t.equal(noData.fields[1].value, 'no data (&gt; 0.05)');
  t.equal(noData.color, '#4a90e2');
  t.equal(noData.fields.length, 2, 'no labels: no Labels field');
  t.equal(escape('a<b>&c'), 'a&lt;b&gt;&amp;c');
});

t.test('request URLs', async (t) => {
  t.equal(requestUrl('http://am:9093', '/api/v2/alerts'), 'http://am:9093/api/v2/alerts');
  t.equal(requestUrl('http://am:9093/', '/api/v2/alerts'), 'http://am:9093/api/v2/alerts');
  t.equal(requestUrl('http://proxy/alertmanager/', '/api/v2/alerts'), 'http://proxy/alertmanager/api/v2/alerts');
  t.equal(requestUrl('http://am:9093/api/v2/alerts', '/api/v2/alerts'), 'http://am:9093/api/v2/alerts', 'given in full: kept');
  t.equal(requestUrl('https://hooks.example/x?token=1', ''), 'https://hooks.example/x?token=1');
});
