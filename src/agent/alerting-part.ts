/**
 * The agent's alerting part: the configuration's rules and notification
 * targets, checked before anything loads (planAlerting), then the rules
 * evaluated on the store every flush interval, their incidents and API rules
 * in the database under the data directory, and their notifications through
 * the dispatcher (startAlerting).
 *
 *   store --every flush_interval_seconds--> Alerting --events--> LiveHub (alert_triggered / alert_resolved)
 *                                              |  `--notify--> Dispatcher --> Alertmanager, webhook, Slack
 *                                              `--rules, incidents--> SQLite (data_dir/http-tracer.db)
 */
import { Alerting } from '../alerting/alerting';
import { Dispatcher } from '../alerting/notifiers/dispatcher';
import { notificationTargets } from '../alerting/notifiers/targets-config';
import { evaluationWindowFloor, rulesFromConfig } from '../alerting/rule-input';
import type { AlertRule, TargetConfig, TargetStats } from '../alerting/types';
import type { MetricStore } from '../analytics/store';
import type { AgentConfig } from '../config/analytics-config';
import { nodeName } from '../config/node-name';
import { DEFAULT_FLUSH_INTERVAL_MS } from '../pipeline/engine-options';
import type { LiveHub } from '../server/live/hub';
import { closeDatabase, openDatabase } from '../storage/database';
import { SqliteIncidentRepository } from '../storage/incident-repository';
import { SqliteRuleRepository } from '../storage/rule-repository';

/** How messages name the data directory. */
export function dataDirWhere(config: AgentConfig): string {
  return config.data.source === 'default' ? 'the default data directory (set --data-dir or HTTP_TRACER_DATA_DIR)' : config.data.source;
}

export interface AlertingPlan {
  /** The configuration file's rules, validated. */
  configRules: AlertRule[];
  targets: TargetConfig[];
}

/**
 * The rules and targets of the configuration and environment, or undefined
 * when alerting is off. Throws HT_ERR_OPTION naming the rule and key, or the
 * target and key (exit code 2), before the engine or the probes load.
 */
export function planAlerting(config: AgentConfig, env: NodeJS.ProcessEnv, now = Date.now()): AlertingPlan | undefined {
  const a = config.alerting;
  if (!a.enabled) return undefined;
  const minWindowMs = evaluationWindowFloor(config.options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
  return { configRules: rulesFromConfig(a.rules, a.rulesSource, now, { minWindowMs }), targets: notificationTargets(a.notifications, a.notificationsWhere, env) };
}

export interface RunningAlerting {
  alerting: Alerting;
  /** The notification targets' counters. */
  targets(): TargetStats[];
  /** Stops evaluating, tries to deliver what is queued, closes the database (once: the agent's component calls it). */
  shutdown(): Promise<void>;
}

export interface AlertingInputs {
  store: MetricStore;
  intervalMs: number;
  live: LiveHub;
  /** The dashboard's address as people reach it (links in notifications). */
  dashboardUrl: () => string;
}

export function startAlerting(config: AgentConfig, plan: AlertingPlan, deps: AlertingInputs): RunningAlerting {
  const db = openDatabase(config.data.dir, dataDirWhere(config));
  try {
    const dispatcher = new Dispatcher(plan.targets);
    const alerting = new Alerting({
      store: deps.store,
      rules: new SqliteRuleRepository(db),
      incidents: new SqliteIncidentRepository(db),
      notify: (n) => dispatcher.enqueue(n),
      // Checked again by Alerting against the store: its families (processor plugins add theirs) and the windows it keeps.
      configRules: plan.configRules,
      intervalMs: deps.intervalMs,
      now: Date.now,
      node: nodeName(),
      generatorUrl: (id) => `${deps.dashboardUrl()}/#alert=${encodeURIComponent(id)}`,
    });
    alerting.on((e) => deps.live.alert(e));
    dispatcher.start();
    alerting.start();
    return {
      alerting,
      targets: () => dispatcher.stats(),
      async shutdown() {
        try {
          await alerting.shutdown();
          await dispatcher.shutdown();
        } finally {
          closeDatabase(db);
        }
      },
    };
  } catch (e) {
    closeDatabase(db);
    throw e;
  }
}
