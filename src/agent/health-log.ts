/**
 * The agent's troubles in the log, once per change (src/log/change-log.ts),
 * sampled every SAMPLE_EVERY_MS from the counters /api/health reads:
 *
 *   engine         a failure of a new kind (its first line)           error (failures are kept: never "cleared")
 *   losses         exchanges lost in about the last minute             warn from LOSS_WARNING_PER_MINUTE, info once a minute passes without
 *   alert rules    rules whose evaluation fails                        warn (the list), info when none fails
 *   notifications  a target whose last attempt failed, per target      warn (the error then), info when it delivers again
 *   queue drops    a forwarding queue full, dropping its oldest        warn, info when it stops
 *   TLS probes     a TLS library that could not be probed, per path    warn (the error), once
 *
 * Losses and notification failures are conditions (losing or not, failing
 * or not): their counts and error texts change from one sample to the next
 * without being news. Forwarding failures are logged where they happen
 * (exporters/forwarder.ts), probe failures once at start (cli/trace.ts),
 * Kubernetes watch errors by the watch (metadata/kubernetes-watch.ts).
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

/**
 * Losses in a minute worth a warning. A few are normal at start (responses to
 * requests sent before the programs attached have no request), and
 * /api/health already shows any loss as "degraded"; the log speaks up for a
 * trend. Once warned, it stays so until a whole minute passes without loss.
 */
export const LOSS_WARNING_PER_MINUTE = 100;

/** Whatever the text, the same condition. */
const condition = (): boolean => true;

export function startHealthLog(health: HealthSource, log: Log, startedAtMs: number, now: () => number = Date.now, everyMs = SAMPLE_EVERY_MS): HealthLog {
  const lostTotal = (): number => (health.captureStats?.().lost.total ?? 0) + health.engineStats().droppedEvents;
  const losses = new LossWatch(lostTotal, now, startedAtMs);
  const dropped = new Map<string, number>();
  const engine = new ChangeLog<string>({
    changed: (_key, failure) => log.error({ failures: health.engineStats().failures.length }, `engine: ${failure}`),
    cleared: () => undefined, // the engine keeps its failures: never cleared
  });
  const losing = new ChangeLog<number>({
    changed: (_key, lastMinute) =>
      log.warn({ lostLastMinute: lastMinute, byReason: health.captureStats?.().lost.byReason }, `exchanges lost: ${lastMinute} in the last minute (see http_tracer_events_lost_total)`),
    cleared: () => log.info('no exchange lost in the last minute'),
    same: condition,
  });
  const rules = new ChangeLog<string>({
    changed: (_key, failing) => log.warn(`alert rules failing to evaluate: ${failing}`),
    cleared: () => log.info('every alert rule evaluates again'),
  });
  const notify = new ChangeLog<string>({
    changed: (target, error) => log.warn({ target, error }, `notifications to ${target} failing: ${error}`),
    cleared: (target) => log.info({ target }, `notifications to ${target} delivered again`),
    same: condition,
  });
  const drops = new ChangeLog<true>({
    changed: (target) => log.warn({ target }, `forwarding queue of ${target} full: its oldest rollups are dropped`),
    cleared: (target) => log.info({ target }, `forwarding queue of ${target} no longer dropping`),
  });
  const tls = new ChangeLog<string>({
    changed: (path, error) => log.warn({ path, error }, `https not captured from ${path}: its uprobes could not be attached: ${error}`),
    cleared: () => undefined, // the failures are kept while the agent runs: never cleared
  });
  const sample = (): void => {
    const failures = health.engineStats().failures;
    if (failures.length > 0) engine.set('engine', failures[failures.length - 1].split('\n')[0]);
    const lastMinute = losses.recent();
    const warned = losing.get('losses') !== undefined;
    losing.set('losses', lastMinute >= LOSS_WARNING_PER_MINUTE || (warned && lastMinute > 0) ? lastMinute : undefined);
    const alerting = health.alerting?.();
    const failingRules = alerting?.stats.failingRules ?? [];
    rules.set('rules', failingRules.length > 0 ? failingRules.join('; ') : undefined);
    for (const t of alerting?.targets ?? []) {
      const failing = t.lastErrorAt !== undefined && t.lastErrorAt > (t.lastSuccessAt ?? 0);
      notify.set(t.name, failing ? (t.lastError ?? 'failed') : undefined);
    }
    for (const f of health.tlsFailures?.() ?? []) tls.set(f.path, f.error);
    for (const t of health.forwarding?.().targets ?? []) {
      const before = dropped.get(t.name) ?? 0;
      dropped.set(t.name, t.samplesDropped);
      drops.set(t.name, t.samplesDropped > before ? true : undefined);
    }
  };
  const timer = setInterval(sample, everyMs).unref();
  return { sample, stop: () => clearInterval(timer) };
}
