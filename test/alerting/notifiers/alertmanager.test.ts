/**
 * Against the real Alertmanager (Debian's 0.25): a firing notification
 * through the Dispatcher is listed by GET /api/v2/alerts with its labels,
 * annotations and generatorURL; a repeat moves its endsAt on; the resolve
 * takes it out of the list. Alertmanager keeps a resolved alert until its
 * garbage collection, but GET /api/v2/alerts never lists an alert whose
 * endsAt has passed, whatever the filters (active, silenced, inhibited,
 * unprocessed): absence is the exact outcome, and Alertmanager's own
 * counters show it received a resolve.
 */
import t from 'tap';
import type { Notification } from '../../../src/alerting/types';
import { Dispatcher } from '../../../src/alerting/notifiers/dispatcher';
import { alertmanagerSkipReason, startAlertmanager, type Alertmanager, type GettableAlert } from '../../helpers/alertmanager';

async function listed(am: Alertmanager, pred: (alerts: GettableAlert[]) => boolean, what: string, timeoutMs = 10_000): Promise<GettableAlert[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alerts = await am.alerts();
    if (pred(alerts)) return alerts;
    if (Date.now() > deadline) throw new Error(`alertmanager: timed out waiting for ${what}; listed: ${JSON.stringify(alerts)}\n${am.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('firing, repeat and resolve through the Dispatcher to the real Alertmanager', { skip: alertmanagerSkipReason() }, async (t) => {
  const am = await startAlertmanager();
  t.teardown(() => am.stop());
  let now = Math.floor(Date.now() / 1000) * 1000;
  const dispatcher = new Dispatcher([{ name: 'alertmanager', kind: 'alertmanager', url: am.url, headers: {}, timeoutMs: 5000 }], { now: () => now, resendIntervalMs: 60_000, initialBackoffMs: 50 });
  t.teardown(() => dispatcher.shutdown());
  dispatcher.start();

  const startsAt = new Date(now - 30_000).toISOString();
  const notice = {
    rule_id: 'alert_0123456789abcdef',
    name: 'APIErrors',
    metric: 'error_rate',
    severity: 'critical' as const,
    state: 'firing' as const,
    labels: { alertname: 'APIErrors', node: 'node-1', severity: 'critical', 'team-name': 'payments', service: 'api:8080', route: '' },
    annotations: { summary: 'APIErrors: error_rate is 0.25', description: 'Error rate of api:8080 is 0.25' },
    value: 0.25,
    threshold: 0.05,
    condition: 'gt' as const,
    starts_at: startsAt,
    message: 'Error rate of api:8080 is 0.25',
    incident_id: 'inc_00000000000000aa',
    generator_url: 'http://127.0.0.1:8080/#/alerts/alert_0123456789abcdef',
  };
  const firing: Notification = { fingerprint: 'f1f1f1f1f1f1f1f1', status: 'firing', notice, channels: [], repeat: false };
  dispatcher.enqueue(firing);
  const [alert] = await listed(am, (a) => a.length === 1 && a[0].status.state === 'active', 'the firing alert');
  t.strictSame(alert.labels, { alertname: 'APIErrors', node: 'node-1', severity: 'critical', team_name: 'payments', service: 'api:8080' }, 'the invalid name made valid, the empty label dropped');
  t.strictSame(alert.annotations, { summary: 'APIErrors: error_rate is 0.25', description: 'Error rate of api:8080 is 0.25' });
  t.equal(alert.generatorURL, 'http://127.0.0.1:8080/#/alerts/alert_0123456789abcdef');
  t.equal(Date.parse(alert.startsAt), Date.parse(startsAt));
  t.equal(Date.parse(alert.endsAt), now + 4 * 60_000, 'valid for 4 resend intervals');
  t.same(alert.receivers.map((r) => r.name), ['blackhole']);

  // A repeat a resend interval later moves endsAt on.
  now += 60_000;
  dispatcher.enqueue({ ...firing, repeat: true });
  await listed(am, (a) => a.length === 1 && Date.parse(a[0].endsAt) === now + 4 * 60_000, 'endsAt moved on by the repeat');

  // The resolve: endsAt = when it resolved (now, in Alertmanager's time too).
  const resolvedAt = Date.now();
  dispatcher.enqueue({ ...firing, status: 'resolved', notice: { ...notice, state: 'resolved', ends_at: new Date(resolvedAt).toISOString() } });
  await listed(am, (a) => a.length === 0, 'the resolved alert to leave the list');
  for (const filter of [{ active: false }, { active: true, silenced: true, inhibited: true, unprocessed: true }, { filter: ['alertname="APIErrors"'] }]) {
    t.same(await am.alerts(filter), [], `not listed with ${JSON.stringify(filter)}`);
  }
  // Absent from the list, yet received as resolved (not lost, not refused): Alertmanager's own counters.
  t.equal(await am.metric('alertmanager_alerts_received_total{status="firing",version="v2"}'), 2);
  t.equal(await am.metric('alertmanager_alerts_received_total{status="resolved",version="v2"}'), 1);
  t.equal(await am.metric('alertmanager_alerts_invalid_total{version="v2"}'), 0);
  t.equal(await am.metric('alertmanager_alerts{state="active"}'), 0);
  t.match(dispatcher.stats()[0], { name: 'alertmanager', kind: 'alertmanager', url: am.url, sent: 3, failed: 0, queued: 0, dropped: 0 });
  t.notOk('lastError' in dispatcher.stats()[0]);
});
