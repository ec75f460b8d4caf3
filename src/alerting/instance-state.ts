/**
 * One alert instance's state machine, pure: what the previous state, whether
 * the condition holds now, and the rule's duration make of it.
 *
 *   (none | resolved) --holds--> pending --holds for duration (and minEvaluations)--> firing
 *        ^                          |                                                  |
 *        `------ not holding -------' (cleared: the instance goes)                     |
 *   resolved <---------------------------- not holding --------------------------------'
 *
 * duration 0 fires at the first evaluation that meets the condition (when
 * minEvaluations is 1; anomaly rules ask for 2: one odd sample is not
 * sustained).
 *
 * A group that had a pending or firing instance and is gone from the data
 * (no series in the window) is evaluated with missingValue(kind): 0 for
 * counts, rates and fractions (no traffic is no errors: an error-rate alert
 * resolves; a "requests below" alert keeps firing), NaN for seconds and bytes
 * (an unknown latency meets no condition: the alert resolves).
 */
import type { AlertMetricKind } from './alert-metrics';
import type { Condition, InstanceState } from './types';

/** The condition holds; NaN never does. */
export function compare(condition: Condition, value: number, threshold: number): boolean {
  if (Number.isNaN(value) || Number.isNaN(threshold)) return false;
  switch (condition) {
    case 'gt':
      return value > threshold;
    case 'lt':
      return value < threshold;
    case 'eq':
      return value === threshold;
    case 'ne':
      return value !== threshold;
    case 'gte':
      return value >= threshold;
    case 'lte':
      return value <= threshold;
  }
}

/** What a group absent from the window counts as (see above). */
export function missingValue(kind: AlertMetricKind): number {
  return kind === 'seconds' || kind === 'bytes' ? NaN : 0;
}

/** The part of an AlertInstance the state machine decides. */
export interface Phase {
  state: InstanceState;
  /** When the condition started holding (this time round). */
  activeSince: number;
  firedAt?: number;
  resolvedAt?: number;
  /** Consecutive evaluations the condition has held (0 once resolved). */
  evaluations: number;
}

/** pending: a new pending instance; fired: it starts firing; resolved: it stops; cleared: a pending one stops without having fired. */
export type Transition = 'pending' | 'fired' | 'resolved' | 'cleared' | 'none';

/**
 * The next phase of an instance (a new object; `prev` is not changed).
 * `phase` undefined: there is no instance (none, or a pending one cleared).
 */
export function nextPhase(prev: Phase | undefined, holds: boolean, now: number, durationMs: number, minEvaluations = 1): { phase: Phase | undefined; transition: Transition } {
  const ready = (since: number, evaluations: number): boolean => now - since >= durationMs && evaluations >= minEvaluations;
  if (!prev || prev.state === 'resolved') {
    if (!holds) return { phase: prev, transition: 'none' };
    if (ready(now, 1)) return { phase: { state: 'firing', activeSince: now, firedAt: now, evaluations: 1 }, transition: 'fired' };
    return { phase: { state: 'pending', activeSince: now, evaluations: 1 }, transition: 'pending' };
  }
  if (prev.state === 'pending') {
    if (!holds) return { phase: undefined, transition: 'cleared' };
    const evaluations = prev.evaluations + 1;
    if (ready(prev.activeSince, evaluations)) return { phase: { state: 'firing', activeSince: prev.activeSince, firedAt: now, evaluations }, transition: 'fired' };
    return { phase: { ...prev, evaluations }, transition: 'none' };
  }
  // firing
  if (holds) return { phase: { ...prev, evaluations: prev.evaluations + 1 }, transition: 'none' };
  return { phase: { state: 'resolved', activeSince: prev.activeSince, firedAt: prev.firedAt, resolvedAt: now, evaluations: 0 }, transition: 'resolved' };
}
