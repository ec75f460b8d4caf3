/**
 * Alert rules as users write them, checked in one place and turned into
 * AlertRule: seed 002's shape in the configuration file
 * (output.analytics.alert_rules) and seed 000's in POST /api/alerts, with the
 * same optional extras. Every problem names the field (and, in the file, the
 * rule and its index); nothing half-valid gets through.
 *
 *   config:  {"name", "metric", "condition": "gt", "threshold", "duration_seconds", "labels", "annotations", ...}
 *   API:     {"name", "metric_name", "alert_type": "threshold", "condition": ">", "threshold", "notification_channels", ...}
 *     --> AlertRule (types.ts)  --ruleToApi--> the REST shape (seed 000's fields and ours)
 */
import { formatDuration, parseDuration } from '../analytics/duration';
import { FAMILIES, type MetricFamily, type MetricKind } from '../analytics/families';
import { RESOLUTION_MS } from '../analytics/store';
import { TracerError } from '../errors';
import { resolveAlertMetric, type AlertMetric } from './alert-metrics';
import { CONDITION_SYMBOL } from './template';
import type { AlertRule, AlertType, Condition, RuleActivity, Severity } from './types';

/** A bad field of a rule sent to the API (a 400); `field` as the client wrote it ("condition", "labels.team"). */
export class AlertInputError extends TracerError {
  readonly field: string;
  constructor(field: string, reason: string) {
    super('HT_ERR_BAD_REQUEST', `${field}: ${reason}`);
    this.name = 'AlertInputError';
    this.field = field;
  }
}

/**
 * What only the running store can tell: its families (plugins add some) and
 * which windows it keeps. A MetricStore is one. Without it, the built-in
 * families and any window from 30s to 24h pass.
 */
export interface RuleChecks {
  families?: ReadonlyMap<string, MetricFamily>;
  windowProblem?: (windowMs: number, kind?: MetricKind) => string | undefined;
  /** The shortest window the evaluation reads every exchange in (evaluationWindowFloor); also the default when longer than 1m. */
  minWindowMs?: number;
}

/**
 * A window reads whole 10 s buckets, the newest one partly: an exchange is
 * published into its bucket up to a publish interval late, and must still
 * be inside the window at the next evaluation. So a rule's window spans at
 * least the evaluation interval and two buckets, rounded up to a bucket.
 */
export function evaluationWindowFloor(intervalMs: number): number {
  return Math.ceil((intervalMs + 2 * RESOLUTION_MS) / RESOLUTION_MS) * RESOLUTION_MS;
}

const SYMBOLS: Record<string, Condition> = { '>': 'gt', '<': 'lt', '==': 'eq', '!=': 'ne', '>=': 'gte', '<=': 'lte' };
const NAMES: readonly Condition[] = ['gt', 'lt', 'eq', 'ne', 'gte', 'lte'];
const SEVERITIES: readonly Severity[] = ['info', 'warning', 'error', 'critical'];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export const RULE_LIMITS = {
  nameChars: 200,
  descriptionChars: 2000,
  labels: 32,
  labelValueChars: 1024,
  channels: 16,
  channelChars: 64,
  durationSeconds: 86_400,
  /** Three buckets: with the default 10 s evaluations, evaluationWindowFloor. */
  minWindowMs: 30_000,
  maxWindowMs: 86_400_000,
  maxSensitivity: 100,
} as const;
export const DEFAULT_WINDOW_SECONDS = 60;
export const DEFAULT_SENSITIVITY = 3;

/** Fields a rule may have in either shape, besides the metric's own key (metric_name in the API, metric in the file). */
const COMMON_FIELDS = [
  'name',
  'alert_type',
  'condition',
  'threshold',
  'duration_seconds',
  'window',
  'match',
  'group_by',
  'severity',
  'description',
  'labels',
  'annotations',
  'notification_channels',
  'sensitivity',
  'enabled',
] as const;
/** The API also takes `metric` for metric_name and seed 001's `condition_operator` for condition (one of each pair). */
const API_FIELDS = ['metric_name', 'metric', 'condition_operator', ...COMMON_FIELDS];
/** What ruleToApi and the REST answer add (state, instances, anomaly groups): accepted and ignored, so that a rule read with GET can be sent back with PUT. */
const READ_ONLY_FIELDS = ['id', 'created_at', 'updated_at', 'last_triggered', 'trigger_count', 'source', 'condition_name', 'state', 'instances', 'groups'];
/** A rule's fields in the configuration file (output.analytics.alert_rules[]). */
export const CONFIG_FIELDS = ['metric', ...COMMON_FIELDS];

type Fail = (field: string, reason: string) => never;

function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Record<string, unknown>, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key) && o[key] !== undefined;

/** A condition as either shape writes it: a symbol (>, >=) or a name (gt, gte). */
export function parseCondition(v: unknown): Condition | undefined {
  if (typeof v !== 'string') return undefined;
  if (Object.prototype.hasOwnProperty.call(SYMBOLS, v)) return SYMBOLS[v];
  return (NAMES as readonly string[]).includes(v) ? (v as Condition) : undefined;
}

function stringMap(fail: Fail, field: string, v: unknown, check?: (key: string) => string | undefined): Record<string, string> {
  if (!isObject(v)) fail(field, `${shown(v)} must be an object of names to strings`);
  const entries = Object.entries(v);
  if (entries.length > RULE_LIMITS.labels) fail(field, `has ${entries.length} entries; at most ${RULE_LIMITS.labels}`);
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (!LABEL_NAME.test(key)) fail(`${field}.${key}`, `is not a valid name (letters, digits and _, not starting with a digit)`);
    const problem = check?.(key);
    if (problem) fail(`${field}.${key}`, problem);
    if (typeof value !== 'string') fail(`${field}.${key}`, `${shown(value)} must be a string`);
    if (value.length > RULE_LIMITS.labelValueChars) fail(`${field}.${key}`, `is ${value.length} characters long; at most ${RULE_LIMITS.labelValueChars}`);
    out[key] = value;
  }
  return out;
}

/** The rule's body, whatever the shape; `metricKey` is the field the metric came in (for messages). */
function parseBody(raw: Record<string, unknown>, known: readonly string[], ignored: readonly string[], metricKey: string, fail: Fail, checks: RuleChecks): Omit<AlertRule, 'id' | 'source' | 'createdAt' | 'updatedAt'> {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key) && !ignored.includes(key)) fail(key, `is not a known field (known: ${known.join(', ')})`);
  }

  if (!has(raw, 'name')) fail('name', 'is required (a string)');
  const name = raw.name;
  if (typeof name !== 'string' || name.length === 0) fail('name', `${shown(name)} must be a non-empty string`);
  if (name.length > RULE_LIMITS.nameChars) fail('name', `is ${name.length} characters long; at most ${RULE_LIMITS.nameChars}`);
  if (CONTROL.test(name)) fail('name', `${shown(name)} must not contain control characters`);

  const metricName = raw[metricKey];
  if (metricName === undefined) fail(metricKey, 'is required (a metric name such as http_errors_total_rate)');
  if (typeof metricName !== 'string') fail(metricKey, `${shown(metricName)} must be a string`);
  const families = checks.families ? [...checks.families.values()] : FAMILIES;
  const metric: AlertMetric | string = resolveAlertMetric(metricName, families);
  if (typeof metric === 'string') fail(metricKey, metric);

  let alertType: AlertType = 'threshold';
  if (has(raw, 'alert_type')) {
    if (raw.alert_type !== 'threshold' && raw.alert_type !== 'anomaly') fail('alert_type', `${shown(raw.alert_type)} must be "threshold" or "anomaly"`);
    alertType = raw.alert_type;
  }
  const anomaly = alertType === 'anomaly';

  const conditionKey = has(raw, 'condition_operator') ? 'condition_operator' : 'condition';
  if (has(raw, 'condition_operator') && has(raw, 'condition')) fail('condition_operator', 'is another name for condition: give one of them');
  let condition: Condition = 'gt';
  if (has(raw, conditionKey)) {
    const c = parseCondition(raw[conditionKey]);
    if (!c) fail(conditionKey, `${shown(raw[conditionKey])} must be one of >, <, ==, !=, >=, <= (or gt, lt, eq, ne, gte, lte)`);
    condition = c;
  } else if (!anomaly) fail('condition', 'is required: one of >, <, ==, !=, >=, <= (or gt, lt, eq, ne, gte, lte)');

  let threshold = 0;
  if (has(raw, 'threshold')) {
    if (typeof raw.threshold !== 'number' || !Number.isFinite(raw.threshold)) fail('threshold', `${shown(raw.threshold)} must be a number`);
    threshold = raw.threshold;
  } else if (!anomaly) fail('threshold', 'is required (a number)');

  let durationSeconds = 0;
  if (has(raw, 'duration_seconds')) {
    const d = raw.duration_seconds;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > RULE_LIMITS.durationSeconds) fail('duration_seconds', `${shown(d)} must be a whole number of seconds from 0 to ${RULE_LIMITS.durationSeconds}`);
    durationSeconds = d;
  }

  const minWindowMs = Math.max(RULE_LIMITS.minWindowMs, checks.minWindowMs ?? 0);
  let windowSeconds = Math.max(DEFAULT_WINDOW_SECONDS, minWindowMs / 1000);
  if (has(raw, 'window')) {
    const ms = parseDuration(raw.window);
    if (ms === undefined || ms < minWindowMs || ms > RULE_LIMITS.maxWindowMs) {
      const why = minWindowMs > RULE_LIMITS.minWindowMs ? ` (with evaluations every ${formatDuration(minWindowMs - 2 * RESOLUTION_MS)}, a shorter window could miss an exchange published late into the window's oldest bucket)` : '';
      fail('window', `${shown(raw.window)} must be a duration from ${formatDuration(minWindowMs)} to ${formatDuration(RULE_LIMITS.maxWindowMs)} ("30s", "5m", "1h")${why}`);
    }
    windowSeconds = ms / 1000;
  }
  if (checks.windowProblem) {
    const kind = (checks.families?.get(metric.family) ?? families.find((f) => f.name === metric.family))?.kind;
    const problem = checks.windowProblem(windowSeconds * 1000, kind);
    if (problem) fail('window', `${shown(formatDuration(windowSeconds * 1000))} ${problem}`);
  }

  const labelOfMetric = (label: string): string | undefined =>
    metric.labels.includes(label) ? undefined : `is not a label of ${metric.name} (its labels: ${metric.labels.join(', ')})`;
  const match = has(raw, 'match') ? stringMap(fail, 'match', raw.match, labelOfMetric) : {};

  let groupBy = metric.labels.includes(metric.serviceLabel) ? [metric.serviceLabel] : [];
  if (has(raw, 'group_by')) {
    const g = raw.group_by;
    if (!Array.isArray(g)) fail('group_by', `${shown(g)} must be an array of label names (e.g. ["service", "route"]; [] for one alert over everything)`);
    groupBy = g.map((label, i) => {
      if (typeof label !== 'string') fail(`group_by[${i}]`, `${shown(label)} must be a label name`);
      const problem = labelOfMetric(label);
      if (problem) fail(`group_by[${i}]`, `${shown(label)} ${problem}`);
      if (g.indexOf(label) !== i) fail(`group_by[${i}]`, `${shown(label)} is listed twice`);
      return label;
    });
  }

  const labels = has(raw, 'labels')
    ? stringMap(fail, 'labels', raw.labels, (key) => (key === 'alertname' || key === 'node' ? `is set by the agent (alertname: the rule's name; node: the host)` : undefined))
    : {};
  const annotations = has(raw, 'annotations') ? stringMap(fail, 'annotations', raw.annotations) : {};

  let severity: Severity = (SEVERITIES as readonly string[]).includes(labels.severity) ? (labels.severity as Severity) : 'warning';
  if (has(raw, 'severity')) {
    if (!(SEVERITIES as readonly unknown[]).includes(raw.severity)) fail('severity', `${shown(raw.severity)} must be one of ${SEVERITIES.join(', ')}`);
    severity = raw.severity as Severity;
  }

  let description = '';
  if (has(raw, 'description')) {
    if (typeof raw.description !== 'string') fail('description', `${shown(raw.description)} must be a string`);
    if (raw.description.length > RULE_LIMITS.descriptionChars) fail('description', `is ${raw.description.length} characters long; at most ${RULE_LIMITS.descriptionChars}`);
    description = raw.description;
  }

  let notificationChannels: string[] = [];
  if (has(raw, 'notification_channels')) {
    const c = raw.notification_channels;
    if (!Array.isArray(c)) fail('notification_channels', `${shown(c)} must be an array of target names or kinds (e.g. ["slack"]; [] for every target)`);
    if (c.length > RULE_LIMITS.channels) fail('notification_channels', `has ${c.length} entries; at most ${RULE_LIMITS.channels}`);
    notificationChannels = c.map((name, i) => {
      if (typeof name !== 'string' || name.length === 0 || name.length > RULE_LIMITS.channelChars || CONTROL.test(name)) {
        fail(`notification_channels[${i}]`, `${shown(name)} must be a name of 1 to ${RULE_LIMITS.channelChars} characters`);
      }
      return name;
    });
  }

  let sensitivity = DEFAULT_SENSITIVITY;
  if (has(raw, 'sensitivity')) {
    if (!anomaly) fail('sensitivity', 'applies to anomaly rules only (alert_type "anomaly")');
    const s = raw.sensitivity;
    if (typeof s !== 'number' || !(s > 0) || s > RULE_LIMITS.maxSensitivity) fail('sensitivity', `${shown(s)} must be a number above 0, at most ${RULE_LIMITS.maxSensitivity} (deviations from the baseline)`);
    sensitivity = s;
  }

  let enabled = true;
  if (has(raw, 'enabled')) {
    if (typeof raw.enabled !== 'boolean') fail('enabled', `${shown(raw.enabled)} must be true or false`);
    enabled = raw.enabled;
  }

  return {
    name,
    metric: metricName,
    alertType,
    condition,
    threshold,
    durationSeconds,
    windowSeconds,
    match,
    groupBy,
    severity,
    description,
    labels,
    annotations,
    notificationChannels,
    sensitivity,
    enabled,
  };
}

/**
 * A rule from POST /api/alerts (or PUT): seed 000's shape. `ids.id` is the
 * rule's id ("alert_" + 16 hex digits), `ids.now` its creation time. Throws
 * AlertInputError naming the field.
 */
export function ruleFromApi(body: unknown, ids: { id: string; now: number }, checks: RuleChecks = {}): AlertRule {
  const fail: Fail = (field, reason) => {
    throw new AlertInputError(field, reason);
  };
  if (!isObject(body)) fail('body', `${shown(body)} must be a JSON object (a rule: name, metric_name, condition, threshold, ...)`);
  let raw = body;
  // metric is metric_name by another name; both may come (a rule read back from GET), then they must agree.
  if (has(raw, 'metric') && has(raw, 'metric_name')) {
    if (raw.metric !== raw.metric_name) fail('metric', `${shown(raw.metric)} differs from metric_name ${shown(raw.metric_name)}: give one of them`);
  }
  if (has(raw, 'metric') && !has(raw, 'metric_name')) raw = { ...raw, metric_name: raw.metric };
  const rule = parseBody(raw, API_FIELDS, READ_ONLY_FIELDS, has(body, 'metric') && !has(body, 'metric_name') ? 'metric' : 'metric_name', fail, checks);
  return { id: ids.id, ...rule, source: 'api', createdAt: ids.now, updatedAt: ids.now };
}

/** How messages name a rule of the file: `config F: output.analytics.alert_rules[0] ("high_error_rate")`. */
export function ruleWhere(source: string, index: number, raw: unknown): string {
  const name = isObject(raw) && typeof raw.name === 'string' ? ` (${shown(raw.name)})` : '';
  return `${source}: output.analytics.alert_rules[${index}]${name}`;
}

/** A rule of the configuration file: seed 002's shape. Throws HT_ERR_OPTION: `${where}.field: reason`. */
export function ruleFromConfig(raw: unknown, where: string, now: number, checks: RuleChecks = {}): AlertRule {
  const fail: Fail = (field, reason) => {
    throw new TracerError('HT_ERR_OPTION', `${where}.${field}: ${reason}`);
  };
  if (!isObject(raw)) throw new TracerError('HT_ERR_OPTION', `${where}: ${shown(raw)} must be an object (a rule: name, metric, condition, threshold, duration_seconds, labels, annotations)`);
  const rule = parseBody(raw, CONFIG_FIELDS, [], 'metric', fail, checks);
  return { id: `config_${rule.name}`, ...rule, source: 'config', createdAt: now, updatedAt: now };
}

/** Every rule of output.analytics.alert_rules; names must be unique (they make the ids). */
export function rulesFromConfig(raws: unknown[], source: string, now: number, checks: RuleChecks = {}): AlertRule[] {
  const rules = raws.map((raw, i) => ruleFromConfig(raw, ruleWhere(source, i, raw), now, checks));
  rules.forEach((rule, i) => {
    const first = rules.findIndex((r) => r.name === rule.name);
    if (first !== i) throw new TracerError('HT_ERR_OPTION', `${ruleWhere(source, i, raws[i])}.name: ${shown(rule.name)} is also the name of alert_rules[${first}] (names must be unique)`);
  });
  return rules;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** The REST shape of a rule: seed 000's fields, then ours. */
export function ruleToApi(rule: AlertRule, activity: RuleActivity): Record<string, unknown> {
  return {
    id: rule.id,
    name: rule.name,
    metric_name: rule.metric,
    alert_type: rule.alertType,
    threshold: rule.threshold,
    condition: CONDITION_SYMBOL[rule.condition],
    enabled: rule.enabled,
    created_at: iso(rule.createdAt),
    last_triggered: iso(activity.lastTriggeredAt),
    notification_channels: [...rule.notificationChannels],
    metric: rule.metric,
    condition_name: rule.condition,
    severity: rule.severity,
    description: rule.description,
    duration_seconds: rule.durationSeconds,
    window: formatDuration(rule.windowSeconds * 1000),
    match: { ...rule.match },
    group_by: [...rule.groupBy],
    labels: { ...rule.labels },
    annotations: { ...rule.annotations },
    ...(rule.alertType === 'anomaly' ? { sensitivity: rule.sensitivity } : {}),
    source: rule.source,
    trigger_count: activity.triggerCount,
    updated_at: iso(rule.updatedAt),
  };
}
