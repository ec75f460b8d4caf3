/**
 * The agent's troubles in the log, once per change (src/log/change-log.ts),
 * sampled every SAMPLE_EVERY_MS from the counters /api/health reads:
 *
 *   engine         a failure of a new kind (its first line)           error (failures are kept: never "cleared")
 *   losses         exchanges lost in about the last minute             warn when losses start, info when a minute passes without
 *   alert rules    rules whose evaluation fails                        warn (the list), info when none fails
 *   notifications  a target whose last attempt failed, per target      warn (the error), info when it delivers again
 *   queue drops    a forwarding queue full, dropping its oldest        warn, info when it stops
 *
 * Forwarding failures are logged where they happen (exporters/forwarder.ts),
 * probe failures once at start (cli/trace.ts), Kubernetes watch errors by the
 * watch (metadata/kubernetes-watch.ts).
 */
import { ChangeLog } from '../log/change-log';
import type { Log } from '../log/logger';
import { LossWatch, SAMPLE_EVERY_MS } from '../server/loss-watch';
import type { HealthSource } from '../server/sources';

export interface HealthLog {
  /** One look at the counters (the timer calls it; tests call it directly). */
  sample(): void;
  stop(): void;
}

export function startHealthLog(health: HealthSource, log: Log, startedAtMs: number, now: () => number = Date.now, everyMs = SAMPLE_EVERY_MS): HealthLog {
  const lostTotal = (): number => (health.captureStats?.().lost.total ?? 0) + health.engineStats().droppedEvents;
  const losses = new LossWatch(lostTotal, now, startedAtMs);
  const dropped = new Map<string, number>();
  const changes = new ChangeLog<string>({
    changed(key, state) {
      const [kind, name] = key.split(':', 2) as [string, string | undefined];
      if (kind === 'engine') log.error({ failures: health.engineStats().failures.length }, `engine: ${state}`);
      else if (kind === 'losses') log.warn({ lostLastMinute: Number(state), byReason: health.captureStats?.().lost.byReason }, `exchanges lost: ${state} in the last minute (see http_tracer_events_lost_total)`);
      else if (kind === 'rules') log.warn(`alert rules failing to evaluate: ${state}`);
      else if (kind === 'notify') log.warn({ target: name }, `notifications to ${name} failing: ${state}`);
      else log.warn({ target: name }, `forwarding queue of ${name} full: its oldest rollups are dropped`);
    },
    cleared(key) {
      const [kind, name] = key.split(':', 2) as [string, string | undefined];
      if (kind === 'losses') log.info('no exchange lost in the last minute');
      else if (kind === 'rules') log.info('every alert rule evaluates again');
      else if (kind === 'notify') log.info({ target: name }, `notifications to ${name} delivered again`);
      else log.info({ target: name }, `forwarding queue of ${name} no longer dropping`);
    },
  });
  const sample = (): void => {
    const failures = health.engineStats().failures;
    if (failures.length > 0) changes.set('engine', failures[failures.length - 1].split('\n')[0]);
    const lastMinute = losses.recent();
    // The state is "losing", not the count: a count that changes every sample is not a change of condition.
    const losing = changes.get('losses');
    changes.set('losses', lastMinute > 0 ? (losing ?? String(lastMinute)) : undefined);
    const alerting = health.alerting?.();
    const failingRules = alerting?.stats.failingRules ?? [];
    changes.set('rules', failingRules.length > 0 ? failingRules.join('; ') : undefined);
    for (const t of alerting?.targets ?? []) {
      const failing = t.lastErrorAt !== undefined && t.lastErrorAt > (t.lastSuccessAt ?? 0);
      changes.set(`notify:${t.name}`, failing ? (t.lastError ?? 'failed') : undefined);
    }
    for (const t of health.forwarding?.().targets ?? []) {
      const before = dropped.get(t.name) ?? 0;
      dropped.set(t.name, t.samplesDropped);
      changes.set(`drops:${t.name}`, t.samplesDropped > before ? 'dropping' : undefined);
    }
  };
  const timer = setInterval(sample, everyMs).unref();
  return { sample, stop: () => clearInterval(timer) };
}
