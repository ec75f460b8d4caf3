/**
 * The alerting component: rules from the configuration file and the API,
 * evaluated against the store every interval, per group; instances, their
 * notifications, incidents and events.
 *
 *   every intervalMs (flush_interval_seconds):
 *     per enabled rule: one store read (alert-metrics.ts) --> value per group
 *       threshold: value condition threshold | anomaly: outside the group's baseline (anomaly.ts)
 *       --> instance-state.ts: pending → firing → resolved
 *          fired    --> activity saved, incident opened or joined, alert_triggered,
 *                       notify(firing) unless the incident is silenced
 *          firing   --> notify(firing, repeat) every resendIntervalMs while not silenced
 *          resolved --> incident resolved by "alert", alert_resolved, notify(resolved) always
 *     unresolved incidents with no active instance (after a restart, a rule gone) --> resolved by "alert"
 *
 * notify is the dispatcher's enqueue: synchronous, so a target that hangs
 * never slows evaluation; whatever it throws is counted, not propagated.
 * One rule failing (a store error) is counted and does not stop the others.
 *
 * Bounded: MAX_GROUPS_PER_RULE instances and baselines per rule (further
 * groups are counted in stats().droppedGroups), resolved instances kept
 * RESOLVED_KEEP_MS, MAX_HISTORY notices. Owned by the thread that owns the store.
 *
 * Choices:
 * - Labels of a notice: the rule's labels, then the group's (they win: they
 *   are what tells two alerts of one rule apart, as Alertmanager sees them),
 *   then alertname (the rule's name), node and severity (the rule's), which
 *   nothing overrides.
 * - Events (alert_triggered, alert_resolved) go to listeners even while the
 *   incident is silenced: silence holds notifications, not the dashboard.
 *   Acknowledging does not hold them either (Alertmanager needs the repeats).
 * - An alert that fires while silenced is notified (repeat: false) at the
 *   first evaluation after the silence ends, if still firing.
 * - Config rules enabled or disabled through the API stay so until restart.
 * - A group gone from the data: see instance-state.ts (counts, rates and
 *   fractions count as 0, seconds and bytes as unknown). A rule with
 *   group_by [] always has its one group: 0 when nothing matched (so
 *   "requests below 1/s" fires on silence); anomaly baselines of vanished
 *   groups see 0 (or nothing, for latencies) and go after BASELINE_IDLE_MS.
 * - Rules may share a name (seed 000 allows it); ids tell them apart.
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { formatDuration } from '../analytics/duration';
import { TracerError } from '../errors';
import { resolveAlertMetric, type AlertMetric, type AlertStore } from './alert-metrics';
import { ANOMALY_MIN_EVALUATIONS, observe } from './anomaly';
import { Incidents } from './incidents';
import { compare, missingValue, nextPhase, type Phase } from './instance-state';
import { evaluationWindowFloor, ruleFromApi, type RuleChecks } from './rule-input';
import { DEFAULT_SUMMARY, descriptionTemplate, render, type TemplateContext } from './template';
import type {
  AlertEvent,
  AlertInstance,
  AlertNotice,
  AlertRule,
  Baseline,
  Incident,
  IncidentRepository,
  IncidentStatus,
  Notification,
  RuleActivity,
  RuleRepository,
} from './types';

export const MAX_GROUPS_PER_RULE = 1000;
export const MAX_HISTORY = 500;
export const RESOLVED_KEEP_MS = 3_600_000;
/** A baseline whose group has had no data this long (and no active instance) is forgotten. */
export const BASELINE_IDLE_MS = 3_600_000;
export const DEFAULT_RESEND_INTERVAL_MS = 60_000;

export interface AlertingDeps {
  /** Read at every evaluation (one query per rule; two for the error names). */
  store: AlertStore;
  /** API rules (SQLite in production). */
  rules: RuleRepository;
  incidents: IncidentRepository;
  /** The dispatcher's enqueue: synchronous; the Notification is the callee's from then on. */
  notify: (n: Notification) => void;
  /** Validated rules of the configuration file (rulesFromConfig). */
  configRules: AlertRule[];
  /** flush_interval_seconds, in ms. */
  intervalMs: number;
  /** Firing alerts are notified again (repeat: true) this often. Default 60 s. */
  resendIntervalMs?: number;
  now: () => number;
  /** os.hostname(): the label "node" of every alert. */
  node: string;
  /** The dashboard's link to a rule. */
  generatorUrl: (ruleId: string) => string;
}

export type RuleState = 'inactive' | 'pending' | 'firing';

/** A rule as the API shows it; a snapshot the caller owns. */
export interface RuleView {
  rule: AlertRule;
  activity: RuleActivity;
  state: RuleState;
  /** Pending, firing and recently resolved instances. */
  instances: AlertInstance[];
  /** Anomaly rules: every group's latest value and baseline (band). */
  groups?: { labels: Record<string, string>; value: number; baseline?: Baseline }[];
  /** Why the latest evaluation of the rule failed, if it did. */
  lastError?: string;
}

export interface AlertingStats {
  evaluations: number;
  /** Rule evaluations that failed (one per rule per evaluation). */
  failures: number;
  lastEvaluationMs: number;
  lastEvaluatedAt?: number;
  rules: number;
  instances: { pending: number; firing: number };
  /** Rules whose latest evaluation failed: "rule name: why". */
  failingRules: string[];
  /** notify calls that threw. */
  notifyErrors: number;
  /** Repository writes (activity, incidents) that failed during evaluation. */
  storageErrors: number;
  /** Groups not tracked because a rule had MAX_GROUPS_PER_RULE already. */
  droppedGroups: number;
  lastError?: string;
}

interface Tracked {
  instance: AlertInstance;
  evaluations: number;
  fingerprint: string;
  /** When a firing notification was last sent; undefined: none since it fired. */
  notifiedAt?: number;
  /** The latest finite value, for notices (a vanished latency group has NaN). */
  lastFinite: number;
}

interface GroupBaseline {
  labels: Record<string, string>;
  value: number;
  baseline: Baseline | undefined;
  seenAt: number;
}

interface Runtime {
  rule: AlertRule;
  activity: RuleActivity;
  /** A string when the metric no longer resolves (a plugin's family gone). */
  metric: AlertMetric | string;
  instances: Map<string, Tracked>;
  baselines: Map<string, GroupBaseline>;
  lastError?: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const notFound = (id: string): TracerError => new TracerError('HT_ERR_NOT_FOUND', `alert rule ${id}: not found`);

export function fingerprintOf(ruleId: string, key: string): string {
  return crypto.createHash('sha256').update(`${ruleId}\u0000${key}`).digest('hex').slice(0, 16);
}

export class Alerting {
  private readonly deps: AlertingDeps;
  private readonly resendMs: number;
  private readonly runtimes = new Map<string, Runtime>();
  private readonly book: Incidents;
  private readonly listeners = new Set<(e: AlertEvent) => void>();
  /** Oldest first; read newest first. */
  private readonly recent: AlertNotice[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private counters = { evaluations: 0, failures: 0, lastEvaluationMs: 0, notifyErrors: 0, storageErrors: 0, droppedGroups: 0 };
  private lastEvaluatedAt: number | undefined;
  private lastError: string | undefined;
  /** When this process's store began to fill: a window that starts earlier holds no data yet. */
  private readonly since: number;
  /** What API rules are checked against: the store's families and windows, and the evaluation's window floor. */
  private readonly checks: RuleChecks;

  /** Throws HT_ERR_OPTION when a config rule cannot be evaluated against this store (its metric or window). */
  constructor(deps: AlertingDeps) {
    this.deps = deps;
    this.since = deps.now();
    this.checks = { families: deps.store.families, windowProblem: (ms, kind) => deps.store.windowProblem(ms, kind), minWindowMs: evaluationWindowFloor(deps.intervalMs) };
    this.resendMs = deps.resendIntervalMs ?? DEFAULT_RESEND_INTERVAL_MS;
    this.book = new Incidents(deps.incidents);
    for (const rule of deps.configRules) {
      if (this.runtimes.has(rule.id)) throw new TracerError('HT_ERR_OPTION', `alert rule ${JSON.stringify(rule.name)}: another rule has the same name`);
      const metric = this.metricOf(rule);
      if (typeof metric === 'string') throw new TracerError('HT_ERR_OPTION', `alert rule ${JSON.stringify(rule.name)}: metric: ${metric}`);
      const problem = deps.store.windowProblem(rule.windowSeconds * 1000, deps.store.families.get(metric.family)?.kind);
      if (problem) throw new TracerError('HT_ERR_OPTION', `alert rule ${JSON.stringify(rule.name)}: window: ${problem}`);
      if (rule.windowSeconds * 1000 < this.checks.minWindowMs!) {
        throw new TracerError('HT_ERR_OPTION', `alert rule ${JSON.stringify(rule.name)}: window: ${formatDuration(rule.windowSeconds * 1000)} is shorter than ${formatDuration(this.checks.minWindowMs!)}, the evaluation interval and two buckets`);
      }
      this.runtimes.set(rule.id, newRuntime(rule, { triggerCount: 0 }, metric));
    }
    for (const { rule, activity } of deps.rules.list().sort((a, b) => a.rule.createdAt - b.rule.createdAt)) {
      if (!this.runtimes.has(rule.id)) this.runtimes.set(rule.id, newRuntime(rule, { ...activity }, this.metricOf(rule)));
    }
  }

  /** Evaluates now, then every intervalMs (the timer does not hold the process). */
  start(): void {
    if (this.timer || this.stopped) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.deps.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; idempotent, safe without start. Firing alerts are not resolved: receivers time them out, and a restart fires them again. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    try {
      this.evaluate();
    } catch (e) {
      this.lastError = (e as Error).message;
    }
  }

  /** One evaluation of every enabled rule at nowMs (default: the clock). */
  evaluate(nowMs: number = this.deps.now()): { rules: number; groups: number; ms: number } {
    const started = performance.now();
    let rules = 0;
    let groups = 0;
    const failed = new Set<string>();
    for (const rt of this.runtimes.values()) {
      if (!rt.rule.enabled) continue;
      rules++;
      try {
        groups += this.evaluateRule(rt, nowMs);
        rt.lastError = undefined;
      } catch (e) {
        this.counters.failures++;
        failed.add(rt.rule.id);
        this.lastError = rt.lastError = `${rt.rule.name}: ${(e as Error).message}`;
      }
    }
    this.reconcileIncidents(nowMs, failed);
    const ms = performance.now() - started;
    this.counters.evaluations++;
    this.counters.lastEvaluationMs = ms;
    this.lastEvaluatedAt = nowMs;
    return { rules, groups, ms };
  }

  private evaluateRule(rt: Runtime, now: number): number {
    const { rule, metric } = rt;
    if (typeof metric === 'string') throw new TracerError('HT_ERR_OPTION', `metric: ${metric}`);
    const values = metric.values(this.deps.store, rule.windowSeconds * 1000, rule.match, rule.groupBy, now);
    const missing = missingValue(metric.kind);
    // One group over everything always exists: no traffic is a value (0) for counts and rates.
    if (rule.groupBy.length === 0 && !values.has('') && !Number.isNaN(missing)) values.set('', { labels: {}, value: missing });
    if (rule.alertType === 'anomaly') {
      for (const [key, g] of values) {
        let b = rt.baselines.get(key);
        if (!b) {
          if (rt.baselines.size >= MAX_GROUPS_PER_RULE) {
            this.counters.droppedGroups++;
            continue;
          }
          rt.baselines.set(key, (b = { labels: g.labels, value: g.value, baseline: undefined, seenAt: now }));
        }
        this.observeGroup(rt, key, b, g.value, now);
        b.seenAt = now;
      }
      for (const [key, b] of rt.baselines) {
        if (values.has(key)) continue;
        const active = rt.instances.get(key);
        if (now - b.seenAt >= BASELINE_IDLE_MS && (!active || active.instance.state === 'resolved')) {
          rt.baselines.delete(key);
          continue;
        }
        this.observeGroup(rt, key, b, missing, now);
      }
    } else {
      for (const [key, g] of values) this.step(rt, key, g.labels, g.value, compare(rule.condition, g.value, rule.threshold), now, undefined);
      for (const [key, tr] of rt.instances) {
        if (values.has(key)) continue;
        if (tr.instance.state !== 'resolved') this.step(rt, key, tr.instance.labels, missing, compare(rule.condition, missing, rule.threshold), now, undefined);
      }
    }
    for (const [key, tr] of rt.instances) {
      if (tr.instance.state === 'resolved' && now - (tr.instance.resolvedAt ?? now) >= RESOLVED_KEEP_MS) rt.instances.delete(key);
    }
    return values.size;
  }

  private observeGroup(rt: Runtime, key: string, b: GroupBaseline, value: number, now: number): void {
    const { anomalous, baseline } = observe(b.baseline, value, rt.rule);
    b.baseline = baseline;
    b.value = value;
    this.step(rt, key, b.labels, value, anomalous, now, baseline);
  }

  /** One group's evaluation: the state machine, then what its transition sets off. */
  private step(rt: Runtime, key: string, labels: Record<string, string>, value: number, holds: boolean, now: number, baseline: Baseline | undefined): void {
    const { rule } = rt;
    let tr = rt.instances.get(key);
    if (tr && tr.instance.state === 'resolved' && !holds) {
      tr.instance.value = value; // resting: nothing else to do
      return;
    }
    if (!tr && !holds) return;
    const prev: Phase | undefined = tr && { state: tr.instance.state, activeSince: tr.instance.activeSince, firedAt: tr.instance.firedAt, resolvedAt: tr.instance.resolvedAt, evaluations: tr.evaluations };
    const { phase, transition } = nextPhase(prev, holds, now, rule.durationSeconds * 1000, rule.alertType === 'anomaly' ? ANOMALY_MIN_EVALUATIONS : 1);
    if (!phase) {
      rt.instances.delete(key); // a pending instance cleared
      return;
    }
    if (!tr) {
      if (rt.instances.size >= MAX_GROUPS_PER_RULE && !evictResolved(rt)) {
        this.counters.droppedGroups++;
        return;
      }
      tr = {
        instance: { ruleId: rule.id, key, labels, state: phase.state, value, activeSince: phase.activeSince, message: '' },
        evaluations: 0,
        fingerprint: fingerprintOf(rule.id, key),
        lastFinite: 0,
      };
      rt.instances.set(key, tr);
    }
    const inst = tr.instance;
    if (transition === 'pending' || (transition === 'fired' && prev?.state !== 'pending')) {
      // A new round (after none or resolved): nothing of the previous one carries over.
      delete inst.firedAt;
      delete inst.resolvedAt;
      delete inst.valueAtFiring;
      delete inst.incidentId;
      tr.notifiedAt = undefined;
    }
    tr.evaluations = phase.evaluations;
    inst.state = phase.state;
    inst.activeSince = phase.activeSince;
    if (phase.firedAt !== undefined) inst.firedAt = phase.firedAt;
    if (phase.resolvedAt !== undefined) inst.resolvedAt = phase.resolvedAt;
    inst.labels = labels;
    inst.value = value;
    if (Number.isFinite(value)) tr.lastFinite = value;
    if (baseline) inst.baseline = { ...baseline };
    else delete inst.baseline;
    if (transition !== 'resolved') inst.message = render(descriptionTemplate(rule), this.context(rt, tr));

    if (transition === 'fired') this.fired(rt, tr, now);
    else if (transition === 'resolved') this.resolved(rt, tr, now, undefined);
    else if (inst.state === 'firing') this.resend(rt, tr, now);
  }

  private fired(rt: Runtime, tr: Tracked, now: number): void {
    const { rule } = rt;
    const inst = tr.instance;
    inst.valueAtFiring = inst.value;
    rt.activity = { lastTriggeredAt: now, triggerCount: rt.activity.triggerCount + 1 };
    if (rule.source === 'api') this.persist(() => this.deps.rules.saveActivity(rule.id, { ...rt.activity }));
    const incident = this.persist(() =>
      this.book.fire({ ruleId: rule.id, ruleName: rule.name, key: inst.key, labels: this.noticeLabels(rt, inst), severity: rule.severity, value: inst.value, message: inst.message }, now),
    );
    if (incident) inst.incidentId = incident.id;
    const notice = this.notice(rt, tr, 'firing');
    this.remember(notice);
    this.emit({ type: 'alert_triggered', alert: notice });
    if (!this.book.isSilenced(inst.incidentId, now)) this.send(rt, tr, notice, false, now);
  }

  private resend(rt: Runtime, tr: Tracked, now: number): void {
    if (this.book.isSilenced(tr.instance.incidentId, now)) return;
    if (tr.notifiedAt === undefined) this.send(rt, tr, this.notice(rt, tr, 'firing'), false, now);
    else if (now - tr.notifiedAt >= this.resendMs) this.send(rt, tr, this.notice(rt, tr, 'firing'), true, now);
  }

  /** The instance stopped firing (or its rule went): incident, event, and always a resolve notification. */
  private resolved(rt: Runtime, tr: Tracked, now: number, note: string | undefined): void {
    const inst = tr.instance;
    if (inst.incidentId !== undefined) {
      const id = inst.incidentId;
      this.persist(() => this.book.resolveByAlert(id, now, inst.value, note));
    }
    const notice = this.notice(rt, tr, 'resolved');
    this.remember(notice);
    this.emit({ type: 'alert_resolved', alert: notice });
    this.sendNotification({ fingerprint: tr.fingerprint, status: 'resolved', notice, channels: [...rt.rule.notificationChannels], repeat: false });
  }

  private send(rt: Runtime, tr: Tracked, notice: AlertNotice, repeat: boolean, now: number): void {
    tr.notifiedAt = now;
    this.sendNotification({ fingerprint: tr.fingerprint, status: 'firing', notice, channels: [...rt.rule.notificationChannels], repeat });
  }

  private sendNotification(n: Notification): void {
    try {
      this.deps.notify(n);
    } catch (e) {
      this.counters.notifyErrors++;
      this.lastError = `notify: ${(e as Error).message}`;
    }
  }

  private emit(e: AlertEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(e);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private remember(notice: AlertNotice): void {
    this.recent.push(notice);
    if (this.recent.length > MAX_HISTORY) this.recent.splice(0, this.recent.length - MAX_HISTORY);
  }

  /** A repository write during evaluation: a failure is counted; evaluation goes on. */
  private persist<T>(write: () => T): T | undefined {
    try {
      return write();
    } catch (e) {
      this.counters.storageErrors++;
      this.lastError = `storage: ${(e as Error).message}`;
      return undefined;
    }
  }

  private noticeLabels(rt: Runtime, inst: AlertInstance): Record<string, string> {
    return { ...rt.rule.labels, ...inst.labels, alertname: rt.rule.name, node: this.deps.node, severity: rt.rule.severity };
  }

  private context(rt: Runtime, tr: Tracked): TemplateContext {
    const { rule } = rt;
    return { value: tr.instance.value, threshold: rule.threshold, name: rule.name, metric: rule.metric, labels: this.noticeLabels(rt, tr.instance), baseline: tr.instance.baseline };
  }

  private notice(rt: Runtime, tr: Tracked, state: 'firing' | 'resolved'): AlertNotice {
    const { rule } = rt;
    const inst = tr.instance;
    const ctx = { ...this.context(rt, tr), value: Number.isFinite(inst.value) ? inst.value : tr.lastFinite };
    const annotations: Record<string, string> = { summary: render(rule.annotations.summary ?? DEFAULT_SUMMARY, ctx) };
    for (const [name, template] of Object.entries(rule.annotations)) annotations[name] = render(template, ctx);
    const message = render(descriptionTemplate(rule), ctx);
    annotations.description = message;
    const notice: AlertNotice = {
      rule_id: rule.id,
      name: rule.name,
      metric: rule.metric,
      severity: rule.severity,
      state,
      labels: ctx.labels,
      annotations,
      value: ctx.value,
      threshold: rule.threshold,
      condition: rule.condition,
      starts_at: iso(inst.firedAt ?? inst.activeSince),
      message,
      generator_url: this.deps.generatorUrl(rule.id),
    };
    if (state === 'resolved') notice.ends_at = iso(inst.resolvedAt ?? this.deps.now());
    if (inst.incidentId !== undefined) notice.incident_id = inst.incidentId;
    return notice;
  }

  /** Unresolved incidents whose alert is not pending or firing (it resolved while the agent was down; its rule went or is disabled) are resolved. */
  private reconcileIncidents(now: number, failed: Set<string>): void {
    for (const { id, ruleId, key } of this.book.unresolvedGroups()) {
      if (failed.has(ruleId)) continue;
      const rt = this.runtimes.get(ruleId);
      const tr = rt?.instances.get(key);
      if (tr && tr.instance.state !== 'resolved') continue;
      // After a restart the store is empty: an incident stays open until its rule has seen a whole window.
      if (rt?.rule.enabled && now - this.since < rt.rule.windowSeconds * 1000) continue;
      const note = !rt ? 'the rule no longer exists' : !rt.rule.enabled ? 'the rule is disabled' : 'the alert is no longer active';
      this.persist(() => this.book.resolveByAlert(id, now, NaN, note));
    }
  }

  /** Resolves the rule's firing instances (notifications, incidents) and forgets its state. */
  private reset(rt: Runtime, now: number, note: string): void {
    for (const tr of rt.instances.values()) {
      if (tr.instance.state !== 'firing') continue;
      tr.instance.state = 'resolved';
      tr.instance.resolvedAt = now;
      this.resolved(rt, tr, now, note);
    }
    rt.instances.clear();
    rt.baselines.clear();
  }

  on(listener: (e: AlertEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Config rules first (file order), then API rules (oldest first). */
  rules(enabledOnly = false): RuleView[] {
    return [...this.runtimes.values()].filter((rt) => !enabledOnly || rt.rule.enabled).map(viewOf);
  }

  rule(id: string): RuleView {
    return viewOf(this.runtimeOf(id));
  }

  /** POST /api/alerts: throws AlertInputError (HT_ERR_BAD_REQUEST) naming the field. */
  create(body: unknown): RuleView {
    const now = this.deps.now();
    const rule = ruleFromApi(body, { id: `alert_${crypto.randomBytes(8).toString('hex')}`, now }, this.checks);
    this.deps.rules.save(rule);
    const rt = newRuntime(rule, { triggerCount: 0 }, this.metricOf(rule));
    this.runtimes.set(rule.id, rt);
    return viewOf(rt);
  }

  /**
   * PUT /api/alerts/{id}: the whole rule again; id, created_at and activity
   * stay. Instances stay too unless what they are (metric, match, group_by,
   * window, type, name, severity, labels) changed: then firing ones resolve.
   */
  replace(id: string, body: unknown): RuleView {
    const rt = this.runtimeOf(id);
    refuseConfig(rt.rule, 'replaced');
    const now = this.deps.now();
    const rule = { ...ruleFromApi(body, { id, now }, this.checks), createdAt: rt.rule.createdAt };
    this.deps.rules.save(rule);
    const old = rt.rule;
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    const identity = (r: AlertRule) => [r.metric, r.match, r.groupBy, r.windowSeconds, r.alertType, r.name, r.severity, r.labels];
    if (!same(identity(old), identity(rule)) || !rule.enabled) this.reset(rt, now, 'the rule changed');
    rt.rule = rule;
    rt.metric = this.metricOf(rule);
    return viewOf(rt);
  }

  /** DELETE /api/alerts/{id}: firing instances resolve (notified), its incidents resolve. */
  remove(id: string): void {
    const rt = this.runtimeOf(id);
    refuseConfig(rt.rule, 'deleted');
    this.deps.rules.delete(id);
    this.reset(rt, this.deps.now(), 'the rule was deleted');
    this.runtimes.delete(id);
  }

  /** API rules: saved. Config rules: in memory until restart. Disabling resolves firing instances. */
  setEnabled(id: string, enabled: boolean): RuleView {
    const rt = this.runtimeOf(id);
    if (rt.rule.enabled === enabled) return viewOf(rt);
    const now = this.deps.now();
    const rule = { ...rt.rule, enabled, updatedAt: now };
    if (rule.source === 'api') this.deps.rules.save(rule);
    if (!enabled) this.reset(rt, now, 'the rule was disabled');
    rt.rule = rule;
    return viewOf(rt);
  }

  /** Pending and firing instances of every rule (copies). */
  active(): AlertInstance[] {
    const out: AlertInstance[] = [];
    for (const rt of this.runtimes.values()) for (const tr of rt.instances.values()) if (tr.instance.state !== 'resolved') out.push(copyInstance(tr.instance));
    return out;
  }

  /** Recent firings and resolutions, newest first (at most MAX_HISTORY kept). */
  history(limit: number): AlertNotice[] {
    return limit <= 0 ? [] : this.recent.slice(-limit).reverse();
  }

  incidents(filter: { status?: IncidentStatus; ruleId?: string; limit: number }): Incident[] {
    return this.book.list(filter);
  }

  incident(id: string): Incident {
    return this.book.get(id);
  }

  acknowledge(id: string, by = 'api', note?: string): Incident {
    return this.book.acknowledge(id, this.deps.now(), by, note);
  }

  resolve(id: string, by = 'api', note?: string): Incident {
    return this.book.resolve(id, this.deps.now(), by, note);
  }

  /** Holds the incident's firing notifications until `until` (Unix ms); `until` not after now lifts the silence. */
  silence(id: string, until: number, by = 'api', note?: string): Incident {
    return this.book.silence(id, until, this.deps.now(), by, note);
  }

  unsilence(id: string, by = 'api', note?: string): Incident {
    return this.book.unsilence(id, this.deps.now(), by, note);
  }

  stats(): AlertingStats {
    let pending = 0;
    let firing = 0;
    const failingRules: string[] = [];
    for (const rt of this.runtimes.values()) {
      if (rt.lastError !== undefined) failingRules.push(rt.lastError);
      for (const tr of rt.instances.values()) {
        if (tr.instance.state === 'pending') pending++;
        else if (tr.instance.state === 'firing') firing++;
      }
    }
    const { evaluations, failures, lastEvaluationMs, notifyErrors, storageErrors, droppedGroups } = this.counters;
    const out: AlertingStats = { evaluations, failures, lastEvaluationMs, rules: this.runtimes.size, instances: { pending, firing }, failingRules, notifyErrors, storageErrors, droppedGroups };
    if (this.lastEvaluatedAt !== undefined) out.lastEvaluatedAt = this.lastEvaluatedAt;
    if (this.lastError !== undefined) out.lastError = this.lastError;
    return out;
  }

  private runtimeOf(id: string): Runtime {
    const rt = this.runtimes.get(id);
    if (!rt) throw notFound(id);
    return rt;
  }

  private metricOf(rule: AlertRule): AlertMetric | string {
    return resolveAlertMetric(rule.metric, [...this.deps.store.families.values()]);
  }
}

function newRuntime(rule: AlertRule, activity: RuleActivity, metric: AlertMetric | string): Runtime {
  return { rule, activity, metric, instances: new Map(), baselines: new Map() };
}

function refuseConfig(rule: AlertRule, what: string): void {
  if (rule.source === 'config') throw new TracerError('HT_ERR_CONFLICT', `alert rule ${rule.id}: comes from the configuration file and cannot be ${what} through the API (change output.analytics.alert_rules)`);
}

/** Makes room for a new instance by dropping the oldest resolved one; false when every one is active. */
function evictResolved(rt: Runtime): boolean {
  let oldest: [string, number] | undefined;
  for (const [key, tr] of rt.instances) {
    const at = tr.instance.resolvedAt;
    if (tr.instance.state === 'resolved' && at !== undefined && (!oldest || at < oldest[1])) oldest = [key, at];
  }
  if (!oldest) return false;
  rt.instances.delete(oldest[0]);
  return true;
}

function copyInstance(i: AlertInstance): AlertInstance {
  const out: AlertInstance = { ...i, labels: { ...i.labels } };
  if (i.baseline) out.baseline = { ...i.baseline };
  return out;
}

function viewOf(rt: Runtime): RuleView {
  const instances = [...rt.instances.values()].map((tr) => copyInstance(tr.instance));
  const state: RuleState = instances.some((i) => i.state === 'firing') ? 'firing' : instances.some((i) => i.state === 'pending') ? 'pending' : 'inactive';
  const view: RuleView = { rule: structuredClone(rt.rule), activity: { ...rt.activity }, state, instances };
  if (rt.rule.alertType === 'anomaly') view.groups = [...rt.baselines.values()].map((b) => ({ labels: { ...b.labels }, value: b.value, ...(b.baseline ? { baseline: { ...b.baseline } } : {}) }));
  if (rt.lastError !== undefined) view.lastError = rt.lastError;
  return view;
}
