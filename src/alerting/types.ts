/**
 * The alerting vocabulary shared by rules, evaluation, incidents, storage,
 * notifiers and the REST routes. Times are Unix ms; the REST layer shows
 * them as ISO 8601.
 *
 *   rule (config file or POST /api/alerts)
 *     --evaluate every interval, per group--> instance: pending → firing → resolved
 *        firing   --> incident opened (or the open one of the same rule and group reused)
 *                 --> AlertEvent alert_triggered (WebSocket) + Notification to the targets
 *        resolved --> incident resolved by "alert", alert_resolved, resolve Notification
 */

/** The seed's 002 names; seed 000's symbols (>, <, ==, !=, >=, <=) map onto them. */
export type Condition = 'gt' | 'lt' | 'eq' | 'ne' | 'gte' | 'lte';
export type Severity = 'info' | 'warning' | 'error' | 'critical';
export type AlertType = 'threshold' | 'anomaly';

/** A validated rule, whatever shape it came in. */
export interface AlertRule {
  /** "alert_" + 16 hex digits for API rules; "config_" + the name for rules from the configuration file. */
  id: string;
  name: string;
  /** As given: a derived name (http_errors_total_rate, error_rate, http_request_duration_histogram_p95) or a store metric, optionally with _rate. */
  metric: string;
  alertType: AlertType;
  condition: Condition;
  threshold: number;
  /** How long the condition must hold before the alert fires; 0 fires at the first evaluation that meets it. */
  durationSeconds: number;
  /** The window rate and percentile metrics look at. Default 60. */
  windowSeconds: number;
  /** Exact label values the series must have (service, route, method, side, status_code). */
  match: Record<string, string>;
  /** One alert instance per distinct value of these labels. Default ["service"]. */
  groupBy: string[];
  severity: Severity;
  description: string;
  /** Added to every notification of the rule (the seed's labels: severity, team). */
  labels: Record<string, string>;
  /** Templates: {value}, {threshold}, {name}, {metric} and any group label ({service}). */
  annotations: Record<string, string>;
  /** Target names or kinds (alertmanager, webhook, slack); empty: every target. Names without a target are kept and ignored. */
  notificationChannels: string[];
  /** Anomaly rules: how many deviations from the baseline count as anomalous. Default 3. */
  sensitivity: number;
  enabled: boolean;
  source: 'config' | 'api';
  createdAt: number;
  updatedAt: number;
}

/** What the rule's runtime has done; kept with API rules across restarts. */
export interface RuleActivity {
  /** When an instance of the rule last started firing; undefined: never. */
  lastTriggeredAt?: number;
  /** How many times an instance started firing. */
  triggerCount: number;
}

/** The band an anomaly rule compares against, per group. */
export interface Baseline {
  /** EWMA of the value. */
  mean: number;
  /** EWMA of the absolute deviation from the mean. */
  deviation: number;
  lower: number;
  upper: number;
  /** Samples folded in so far; the rule cannot fire before its warm-up. */
  samples: number;
}

export type InstanceState = 'pending' | 'firing' | 'resolved';

/** One group of one rule (e.g. service="api:8080"). */
export interface AlertInstance {
  ruleId: string;
  /** The group's label values joined; unique within the rule. */
  key: string;
  /** The group labels (groupBy → value). */
  labels: Record<string, string>;
  state: InstanceState;
  /** The latest evaluated value; NaN when the group had no data. */
  value: number;
  /** When the condition started holding (pending since). */
  activeSince: number;
  firedAt?: number;
  resolvedAt?: number;
  /** The value when it started firing. */
  valueAtFiring?: number;
  /** The rendered description (template applied). */
  message: string;
  /** The incident this firing opened or joined. */
  incidentId?: string;
  baseline?: Baseline;
}

/** Sent on the WebSocket (`{type, alert}`) and to in-process listeners. */
export interface AlertEvent {
  type: 'alert_triggered' | 'alert_resolved';
  alert: AlertNotice;
}

/** An alert as people and receivers see it (snake_case: it is a wire shape). */
export interface AlertNotice {
  rule_id: string;
  name: string;
  metric: string;
  severity: Severity;
  state: 'firing' | 'resolved';
  /** alertname, node, the rule's labels, severity, and the group labels. */
  labels: Record<string, string>;
  /** Rendered annotations; always a description. */
  annotations: Record<string, string>;
  value: number;
  threshold: number;
  condition: Condition;
  starts_at: string;
  ends_at?: string;
  message: string;
  incident_id?: string;
  generator_url: string;
}

/** One alert handed to the notification targets. */
export interface Notification {
  /** Stable per rule and group: receivers deduplicate on it. */
  fingerprint: string;
  status: 'firing' | 'resolved';
  notice: AlertNotice;
  /** Rule channels; empty: every target. */
  channels: string[];
  /**
   * A firing alert sent again (every resend interval) so that Alertmanager
   * does not time it out; webhook and Slack targets skip repeats.
   */
  repeat: boolean;
}

export type TargetKind = 'alertmanager' | 'webhook' | 'slack';

/** A notification target from the configuration (output.analytics.notifications) or the environment. */
export interface TargetConfig {
  name: string;
  kind: TargetKind;
  /** alertmanager: the base URL (…:9093); webhook and slack: the URL posted to. */
  url: string;
  /** Extra request headers (e.g. Authorization for a webhook). */
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface TargetStats {
  name: string;
  kind: TargetKind;
  url: string;
  sent: number;
  failed: number;
  /** Notifications waiting (retrying or not yet sent). */
  queued: number;
  /** Dropped from a full queue (firing repeats only: a resolve is never dropped). */
  dropped: number;
  lastError?: string;
  lastErrorAt?: number;
  lastSuccessAt?: number;
}

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';

export interface IncidentEntry {
  at: number;
  action: 'opened' | 'acknowledged' | 'resolved' | 'silenced' | 'unsilenced' | 'refired';
  /** Who: "alert" for the agent itself, else what the caller gave ("by"), or "api". */
  by: string;
  note?: string;
}

export interface Incident {
  /** "inc_" + 16 hex digits. */
  id: string;
  ruleId: string;
  ruleName: string;
  /** The instance key within the rule. */
  key: string;
  labels: Record<string, string>;
  severity: Severity;
  status: IncidentStatus;
  openedAt: number;
  acknowledgedAt?: number;
  acknowledgedBy?: string;
  resolvedAt?: number;
  resolvedBy?: string;
  /** Notifications of this incident are held until then. */
  silencedUntil?: number;
  valueAtOpen: number;
  lastValue: number;
  message: string;
  history: IncidentEntry[];
}

/** Rules created through the API, with their activity (the SQLite table `rules`). */
export interface RuleRepository {
  list(): { rule: AlertRule; activity: RuleActivity }[];
  /** Insert or replace, in one transaction. */
  save(rule: AlertRule): void;
  saveActivity(ruleId: string, activity: RuleActivity): void;
  /** false when there was no such rule. */
  delete(id: string): boolean;
}

/** Incidents with their history (tables `incidents`, `incident_history`). */
export interface IncidentRepository {
  /** Insert or update the incident and append the history entries it has beyond those stored, in one transaction. */
  save(incident: Incident): void;
  get(id: string): Incident | undefined;
  /** Newest first. */
  list(filter: { status?: IncidentStatus; ruleId?: string; limit: number }): Incident[];
  /** Open and acknowledged incidents (the ones evaluation may join or resolve). */
  unresolved(): Incident[];
}
