/**
 * Alert rules as users write them: seed 002's rules (configuration file) and
 * seed 000's POST /api/alerts body taken verbatim, the REST shape back, and
 * every bad input refused naming its field (and, in the file, the rule).
 */
import t from 'tap';
import { FAMILIES } from '../../src/analytics/families';
import { MetricStore } from '../../src/analytics/store';
import { AlertInputError, ruleFromApi, ruleFromConfig, rulesFromConfig, ruleToApi, ruleWhere } from '../../src/alerting/rule-input';
import { TracerError } from '../../src/errors';
import { SEED_000_BODY, SEED_002_RULES } from '../helpers/seed-alerts';

const NOW = 1_800_000_000_000;
const IDS = { id: 'alert_0123456789abcdef', now: NOW };
const SOURCE = 'config /etc/http-tracer.json';


t.test("seed 002's rules, verbatim", async (t) => {
  const rules = rulesFromConfig(SEED_002_RULES, SOURCE, NOW);
  t.same(rules[0], {
    id: 'config_high_error_rate',
    name: 'high_error_rate',
    metric: 'http_errors_total_rate',
    alertType: 'threshold',
    condition: 'gt',
    threshold: 10,
    durationSeconds: 300,
    windowSeconds: 60,
    match: {},
    groupBy: ['service'],
    severity: 'warning',
    description: '',
    labels: { severity: 'warning', team: 'backend' },
    annotations: { description: 'HTTP error rate exceeded 10 errors/sec', runbook: 'https://wiki.company.com/runbooks/high-error-rate' },
    notificationChannels: [],
    sensitivity: 3,
    enabled: true,
    source: 'config',
    createdAt: NOW,
    updatedAt: NOW,
  });
  t.same([rules[1].id, rules[1].metric, rules[1].severity, rules[1].durationSeconds, rules[1].threshold], ['config_high_latency', 'http_request_duration_histogram_p95', 'critical', 180, 1], 'severity from labels.severity');
});

t.test("seed 000's POST body, verbatim", async (t) => {
  const rule = ruleFromApi(SEED_000_BODY, IDS);
  t.same(rule, {
    id: 'alert_0123456789abcdef',
    name: 'High Error Rate Alert',
    metric: 'api_errors_total',
    alertType: 'threshold',
    condition: 'gt',
    threshold: 100,
    durationSeconds: 0,
    windowSeconds: 60,
    match: {},
    groupBy: ['service'],
    severity: 'warning',
    description: '',
    labels: {},
    annotations: {},
    notificationChannels: ['email', 'slack'],
    sensitivity: 3,
    enabled: true,
    source: 'api',
    createdAt: NOW,
    updatedAt: NOW,
  });
  const api = ruleToApi(rule, { triggerCount: 2, lastTriggeredAt: NOW + 60_000 });
  t.same(api, {
    id: 'alert_0123456789abcdef',
    name: 'High Error Rate Alert',
    metric_name: 'api_errors_total',
    alert_type: 'threshold',
    threshold: 100,
    condition: '>',
    enabled: true,
    created_at: '2027-01-15T08:00:00.000Z',
    last_triggered: '2027-01-15T08:01:00.000Z',
    notification_channels: ['email', 'slack'],
    metric: 'api_errors_total',
    condition_name: 'gt',
    severity: 'warning',
    description: '',
    duration_seconds: 0,
    window: '1m',
    match: {},
    group_by: ['service'],
    labels: {},
    annotations: {},
    source: 'api',
    trigger_count: 2,
    updated_at: '2027-01-15T08:00:00.000Z',
  });
  t.same(ruleFromApi(JSON.parse(JSON.stringify(api)), IDS), rule, 'what GET shows can be PUT back');
  t.equal(ruleToApi(rule, { triggerCount: 0 }).last_triggered, null, 'never triggered: null');

  // A metric that is not one of ours: refused, naming it and what is known.
  const e = catchError(() => ruleFromApi({ ...SEED_000_BODY, metric_name: 'api_latency_total' }, IDS)) as AlertInputError;
  t.equal(e.field, 'metric_name');
  t.match(e.message, /^metric_name: "api_latency_total" is not a metric alerts can use \(known: http_requests_total, http_requests_total_rate, http_errors_total, http_errors_total_rate, error_rate, /);
});

t.test('every extra, both spellings of conditions, anomaly defaults', async (t) => {
  const symbols: [string, string][] = [
    ['>', 'gt'],
    ['<', 'lt'],
    ['==', 'eq'],
    ['!=', 'ne'],
    ['>=', 'gte'],
    ['<=', 'lte'],
  ];
  for (const [symbol, name] of symbols) {
    t.equal(ruleFromApi({ ...SEED_000_BODY, condition: symbol }, IDS).condition, name, symbol);
    t.equal(ruleFromApi({ ...SEED_000_BODY, condition: name }, IDS).condition, name, name);
    t.equal(ruleFromConfig({ ...SEED_002_RULES[0], condition: symbol }, 'x', NOW).condition, name, `config ${symbol}`);
  }
  const full = ruleFromApi(
    {
      name: 'checkout latency',
      metric: 'http_request_duration_seconds_p99',
      alert_type: 'anomaly',
      condition_operator: 'gte',
      duration_seconds: 120,
      window: '5m',
      match: { route: '/checkout', method: 'POST', side: 'server' },
      group_by: ['service', 'route'],
      severity: 'critical',
      description: '{name}: {value} s on {route}',
      labels: { team: 'payments' },
      annotations: { runbook: 'https://wiki/checkout' },
      notification_channels: [],
      sensitivity: 4.5,
      enabled: false,
    },
    IDS,
  );
  t.same(
    [full.metric, full.alertType, full.condition, full.threshold, full.durationSeconds, full.windowSeconds, full.match, full.groupBy, full.severity, full.sensitivity, full.enabled],
    ['http_request_duration_seconds_p99', 'anomaly', 'gte', 0, 120, 300, { route: '/checkout', method: 'POST', side: 'server' }, ['service', 'route'], 'critical', 4.5, false],
  );
  const anomaly = ruleFromApi({ name: 'a', metric_name: 'error_rate', alert_type: 'anomaly' }, IDS);
  t.same([anomaly.condition, anomaly.threshold, anomaly.sensitivity], ['gt', 0, 3], 'anomaly: condition > by default, no threshold guard');
  t.equal(ruleToApi(anomaly, { triggerCount: 0 }).sensitivity, 3, 'sensitivity shown for anomaly rules');
  t.same(ruleFromApi({ ...SEED_000_BODY, group_by: [] }, IDS).groupBy, [], 'one alert over everything');
  t.same(ruleFromApi({ ...SEED_000_BODY, metric_name: 'process_events_total_rate' }, IDS).groupBy, ['process_name'], "grouped by the family's service label");
  t.same(ruleFromApi({ ...SEED_000_BODY, labels: { severity: 'nonsense' } }, IDS).severity, 'warning', 'an unknown labels.severity leaves the default');
  t.equal(ruleFromApi({ ...SEED_000_BODY, metric_name: 'network_bytes_total_rate', match: { direction: 'rx' } }, IDS).match.direction, 'rx', "a store family's own labels");
});

function catchError(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('no error');
}

t.test('every bad API field is a 400 naming it', async (t) => {
  const cases: [body: unknown, field: string, message: string][] = [
    [[], 'body', 'body: [] must be a JSON object (a rule: name, metric_name, condition, threshold, ...)'],
    [{ ...SEED_000_BODY, frobnicate: 1 }, 'frobnicate', 'frobnicate: is not a known field (known: metric_name, metric, condition_operator, name, alert_type, condition, threshold, duration_seconds, window, match, group_by, severity, description, labels, annotations, notification_channels, sensitivity, enabled)'],
    [{ ...SEED_000_BODY, metric_name: 'nope' }, 'metric_name', ''],
    [{ ...SEED_000_BODY, metric_name: undefined }, 'metric_name', 'metric_name: is required (a metric name such as http_errors_total_rate)'],
    [{ ...SEED_000_BODY, metric: 'error_rate' }, 'metric', 'metric: "error_rate" differs from metric_name "api_errors_total": give one of them'],
    [{ ...SEED_000_BODY, condition: '>>' }, 'condition', 'condition: ">>" must be one of >, <, ==, !=, >=, <= (or gt, lt, eq, ne, gte, lte)'],
    [{ ...SEED_000_BODY, condition: undefined }, 'condition', 'condition: is required: one of >, <, ==, !=, >=, <= (or gt, lt, eq, ne, gte, lte)'],
    [{ ...SEED_000_BODY, condition_operator: 'gt' }, 'condition_operator', 'condition_operator: is another name for condition: give one of them'],
    [{ ...SEED_000_BODY, threshold: '10' }, 'threshold', 'threshold: "10" must be a number'],
    [{ ...SEED_000_BODY, threshold: undefined }, 'threshold', 'threshold: is required (a number)'],
    [{ ...SEED_000_BODY, duration_seconds: -5 }, 'duration_seconds', 'duration_seconds: -5 must be a whole number of seconds from 0 to 86400'],
    [{ ...SEED_000_BODY, duration_seconds: 1.5 }, 'duration_seconds', 'duration_seconds: 1.5 must be a whole number of seconds from 0 to 86400'],
    [{ ...SEED_000_BODY, alert_type: 'ml' }, 'alert_type', 'alert_type: "ml" must be "threshold" or "anomaly"'],
    [{ ...SEED_000_BODY, window: '5s' }, 'window', 'window: "5s" must be a duration from 30s to 1d ("30s", "5m", "1h")'],
    [{ ...SEED_000_BODY, window: 60 }, 'window', 'window: 60 must be a duration from 30s to 1d ("30s", "5m", "1h")'],
    [{ ...SEED_000_BODY, match: { error_type: '5xx' } }, 'match.error_type', 'match.error_type: is not a label of api_errors_total (its labels: service, side, server_port, method, route, status_code, k8s_namespace_name, k8s_pod_name, k8s_container_name, k8s_deployment_name, k8s_statefulset_name, k8s_daemonset_name, k8s_cronjob_name, k8s_job_name, server_address, scheme)'],
    [{ ...SEED_000_BODY, match: { route: 5 } }, 'match.route', 'match.route: 5 must be a string'],
    [{ ...SEED_000_BODY, group_by: 'service' }, 'group_by', 'group_by: "service" must be an array of label names (e.g. ["service", "route"]; [] for one alert over everything)'],
    [{ ...SEED_000_BODY, group_by: ['service', 'pod'] }, 'group_by[1]', 'group_by[1]: "pod" is not a label of api_errors_total (its labels: service, side, server_port, method, route, status_code, k8s_namespace_name, k8s_pod_name, k8s_container_name, k8s_deployment_name, k8s_statefulset_name, k8s_daemonset_name, k8s_cronjob_name, k8s_job_name, server_address, scheme)'],
    [{ ...SEED_000_BODY, group_by: ['route', 'route'] }, 'group_by[1]', 'group_by[1]: "route" is listed twice'],
    [{ ...SEED_000_BODY, severity: 'page' }, 'severity', 'severity: "page" must be one of info, warning, error, critical'],
    [{ ...SEED_000_BODY, description: 'x'.repeat(2001) }, 'description', 'description: is 2001 characters long; at most 2000'],
    [{ ...SEED_000_BODY, labels: { 'team-name': 'a' } }, 'labels.team-name', 'labels.team-name: is not a valid name (letters, digits and _, not starting with a digit)'],
    [{ ...SEED_000_BODY, labels: { team: 1 } }, 'labels.team', 'labels.team: 1 must be a string'],
    [{ ...SEED_000_BODY, labels: { alertname: 'x' } }, 'labels.alertname', "labels.alertname: is set by the agent (alertname: the rule's name; node: the host)"],
    [{ ...SEED_000_BODY, labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'v'])) }, 'labels', 'labels: has 33 entries; at most 32'],
    [{ ...SEED_000_BODY, annotations: { runbook: 'x'.repeat(1025) } }, 'annotations.runbook', 'annotations.runbook: is 1025 characters long; at most 1024'],
    [{ ...SEED_000_BODY, notification_channels: 'slack' }, 'notification_channels', 'notification_channels: "slack" must be an array of target names or kinds (e.g. ["slack"]; [] for every target)'],
    [{ ...SEED_000_BODY, notification_channels: ['slack', ''] }, 'notification_channels[1]', 'notification_channels[1]: "" must be a name of 1 to 64 characters'],
    [{ ...SEED_000_BODY, sensitivity: 2 }, 'sensitivity', 'sensitivity: applies to anomaly rules only (alert_type "anomaly")'],
    [{ ...SEED_000_BODY, alert_type: 'anomaly', sensitivity: 0 }, 'sensitivity', 'sensitivity: 0 must be a number above 0, at most 100 (deviations from the baseline)'],
    [{ ...SEED_000_BODY, enabled: 'yes' }, 'enabled', 'enabled: "yes" must be true or false'],
    [{ ...SEED_000_BODY, name: 'n'.repeat(201) }, 'name', 'name: is 201 characters long; at most 200'],
    [{ ...SEED_000_BODY, name: '' }, 'name', 'name: "" must be a non-empty string'],
    [{ ...SEED_000_BODY, name: 'a\nb' }, 'name', 'name: "a\\nb" must not contain control characters'],
  ];
  for (const [body, field, message] of cases) {
    const e = catchError(() => ruleFromApi(body, IDS));
    t.ok(e instanceof AlertInputError, field);
    t.equal((e as AlertInputError).code, 'HT_ERR_BAD_REQUEST');
    t.equal((e as AlertInputError).field, field);
    if (message) t.equal(e.message, message);
  }
});

t.test("the store decides which windows and families exist", async (t) => {
  const store = new MetricStore({ families: FAMILIES, retentionMs: 3_600_000, limits: { perService: 10, global: 10 }, now: () => NOW });
  t.equal(ruleFromApi({ ...SEED_000_BODY, window: '45m' }, IDS, store).windowSeconds, 2700);
  t.equal(catchError(() => ruleFromApi({ ...SEED_000_BODY, window: '970s' }, IDS, store)).message, 'window: "970s" is not a multiple of 1m, the resolution kept for histogram windows this long');
  t.equal(catchError(() => ruleFromApi({ ...SEED_000_BODY, window: '2h' }, IDS, store)).message, 'window: "2h" is beyond the retention of 1h');
  const withoutErrors = new MetricStore({ families: FAMILIES.filter((f) => f.name !== 'network_errors_total'), retentionMs: 3_600_000, limits: { perService: 10, global: 10 }, now: () => NOW });
  t.match(catchError(() => ruleFromApi({ ...SEED_000_BODY, metric_name: 'network_errors_total_rate' }, IDS, withoutErrors)).message, /^metric_name: "network_errors_total_rate" is not a metric alerts can use/);
});

t.test('a bad rule in the file stops start-up naming the rule and the key', async (t) => {
  const at = (i: number, raw: unknown) => ruleWhere(SOURCE, i, raw);
  t.equal(at(0, SEED_002_RULES[0]), 'config /etc/http-tracer.json: output.analytics.alert_rules[0] ("high_error_rate")');
  t.equal(at(3, 'x'), 'config /etc/http-tracer.json: output.analytics.alert_rules[3]');
  const cases: [raws: unknown[], message: string][] = [
    [[SEED_002_RULES[0], { ...SEED_002_RULES[1], condition: 'greater' }], `${SOURCE}: output.analytics.alert_rules[1] ("high_latency").condition: "greater" must be one of >, <, ==, !=, >=, <= (or gt, lt, eq, ne, gte, lte)`],
    [[{ ...SEED_002_RULES[0], metric: 'http_errors' }], `${SOURCE}: output.analytics.alert_rules[0] ("high_error_rate").metric: "http_errors" is not a metric alerts can use`],
    [[{ ...SEED_002_RULES[0], metric_name: 'error_rate' }], `${SOURCE}: output.analytics.alert_rules[0] ("high_error_rate").metric_name: is not a known field (known: metric, name, `],
    [[{ ...SEED_002_RULES[0], duration_seconds: -1 }], `${SOURCE}: output.analytics.alert_rules[0] ("high_error_rate").duration_seconds: -1 must be a whole number of seconds from 0 to 86400`],
    [[{ ...SEED_002_RULES[0], threshold: '10' }], `${SOURCE}: output.analytics.alert_rules[0] ("high_error_rate").threshold: "10" must be a number`],
    [[{ ...SEED_002_RULES[0], name: undefined }], `${SOURCE}: output.analytics.alert_rules[0].name: is required (a string)`],
    [['high_error_rate'], `${SOURCE}: output.analytics.alert_rules[0]: "high_error_rate" must be an object (a rule: name, metric, condition, threshold, duration_seconds, labels, annotations)`],
    [[SEED_002_RULES[0], SEED_002_RULES[1], SEED_002_RULES[0]], `${SOURCE}: output.analytics.alert_rules[2] ("high_error_rate").name: "high_error_rate" is also the name of alert_rules[0] (names must be unique)`],
  ];
  for (const [raws, message] of cases) {
    const e = catchError(() => rulesFromConfig(raws, SOURCE, NOW));
    t.ok(e instanceof TracerError && e.code === 'HT_ERR_OPTION', message.slice(SOURCE.length, SOURCE.length + 60));
    t.ok(e.message.startsWith(message), e.message);
  }
});
