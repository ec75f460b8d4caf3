/**
 * Anomaly rules: a baseline per group, and whether a value is outside it.
 *
 *   value per evaluation --observe--> anomalous? (against the band before this value)
 *                                 `--> baseline updated: EWMA mean, EWMA absolute deviation
 *   band = mean ± max(sensitivity × deviation, BAND_FLOOR_FRACTION × |mean|)
 *
 * - Warm-up: the first ANOMALY_WARMUP_SAMPLES values only build the baseline
 *   (never anomalous); meanwhile the weight is max(alpha, 1/n), a plain
 *   average, so the start does not lean on the first value.
 * - An anomalous value moves the mean at alpha × ANOMALOUS_WEIGHT and leaves
 *   the deviation as it is: a sustained shift stays outside the band for long
 *   enough to fire (a 2× level shift with a 5 % deviation is absorbed after
 *   some 190 evaluations, half an hour at 10 s), yet a shift that lasts
 *   becomes the new normal instead of firing forever. Letting the deviation
 *   grow with anomalous values would widen the band within a few minutes.
 * - The direction comes from the condition: gt/gte look above the band,
 *   lt/lte below, eq/ne either side.
 * - The rule's threshold, when not 0, is a guard: the value must also meet
 *   `value condition threshold` (no page for 0.02 errors/s rising to 0.2).
 *   0, the default, is no guard (a 0 guard would never let an lt rule fire).
 * - Sustained: the state machine fires an anomaly rule after duration_seconds
 *   and at least ANOMALY_MIN_EVALUATIONS consecutive anomalous evaluations.
 */
import { compare } from './instance-state';
import type { Baseline, Condition } from './types';

export const ANOMALY_ALPHA = 0.1;
export const ANOMALY_WARMUP_SAMPLES = 10;
/** The weight of an anomalous value relative to a normal one (mean only). */
export const ANOMALOUS_WEIGHT = 0.1;
/** The band is at least this fraction of |mean| either side: a flat series does not page on noise. */
export const BAND_FLOOR_FRACTION = 0.05;
/** One anomalous evaluation is a spike, not a change. */
export const ANOMALY_MIN_EVALUATIONS = 2;

export type Direction = 'above' | 'below' | 'either';

export function directionOf(condition: Condition): Direction {
  if (condition === 'gt' || condition === 'gte') return 'above';
  if (condition === 'lt' || condition === 'lte') return 'below';
  return 'either';
}

function withBand(mean: number, deviation: number, samples: number, sensitivity: number): Baseline {
  const half = Math.max(sensitivity * deviation, BAND_FLOOR_FRACTION * Math.abs(mean));
  return { mean, deviation, lower: mean - half, upper: mean + half, samples };
}

/** Outside the band in the rule's direction; never during warm-up. */
export function outsideBand(baseline: Baseline | undefined, value: number, direction: Direction): boolean {
  if (!baseline || baseline.samples < ANOMALY_WARMUP_SAMPLES || Number.isNaN(value)) return false;
  if (direction === 'above') return value > baseline.upper;
  if (direction === 'below') return value < baseline.lower;
  return value > baseline.upper || value < baseline.lower;
}

export interface AnomalyRule {
  condition: Condition;
  threshold: number;
  sensitivity: number;
}

/**
 * Judges `value` against the baseline so far, then folds it in. A NaN value
 * (no data for a percentile) is neither anomalous nor folded in.
 */
export function observe(prev: Baseline | undefined, value: number, rule: AnomalyRule): { anomalous: boolean; baseline: Baseline | undefined } {
  if (Number.isNaN(value)) return { anomalous: false, baseline: prev };
  const outside = outsideBand(prev, value, directionOf(rule.condition));
  const anomalous = outside && (rule.threshold === 0 || compare(rule.condition, value, rule.threshold));
  if (!prev) return { anomalous, baseline: withBand(value, 0, 1, rule.sensitivity) };
  const samples = prev.samples + 1;
  const alpha = Math.max(ANOMALY_ALPHA, 1 / samples);
  // Outside the band (whether or not the guard let it count), a value barely moves the baseline.
  if (outside) return { anomalous, baseline: withBand(prev.mean + alpha * ANOMALOUS_WEIGHT * (value - prev.mean), prev.deviation, samples, rule.sensitivity) };
  const deviation = prev.deviation + alpha * (Math.abs(value - prev.mean) - prev.deviation);
  return { anomalous, baseline: withBand(prev.mean + alpha * (value - prev.mean), deviation, samples, rule.sensitivity) };
}
