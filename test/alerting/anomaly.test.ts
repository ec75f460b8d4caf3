/**
 * Anomaly baselines: warm-up, the EWMA mean and deviation and the band with
 * exact values, one spike not firing, a sustained shift firing (through the
 * state machine, on a fake clock), the slow absorption of a lasting shift,
 * direction by condition and the threshold guard.
 */
import t from 'tap';
import { ANOMALOUS_WEIGHT, ANOMALY_ALPHA, ANOMALY_MIN_EVALUATIONS, ANOMALY_WARMUP_SAMPLES, BAND_FLOOR_FRACTION, directionOf, observe, outsideBand, type AnomalyRule } from '../../src/alerting/anomaly';
import { nextPhase, type Phase } from '../../src/alerting/instance-state';
import type { Baseline } from '../../src/alerting/types';

const RULE: AnomalyRule = { condition: 'gt', threshold: 0, sensitivity: 3 };

function feed(values: number[], rule = RULE, start?: Baseline): { baseline: Baseline | undefined; anomalous: boolean[] } {
  let baseline = start;
  const anomalous: boolean[] = [];
  for (const v of values) {
    const r = observe(baseline, v, rule);
    baseline = r.baseline;
    anomalous.push(r.anomalous);
  }
  return { baseline, anomalous };
}

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

t.test('the documented constants', async (t) => {
  t.same([ANOMALY_ALPHA, ANOMALY_WARMUP_SAMPLES, ANOMALOUS_WEIGHT, BAND_FLOOR_FRACTION, ANOMALY_MIN_EVALUATIONS], [0.1, 10, 0.1, 0.05, 2]);
  t.same([directionOf('gt'), directionOf('gte'), directionOf('lt'), directionOf('lte'), directionOf('eq'), directionOf('ne')], ['above', 'above', 'below', 'below', 'either', 'either']);
});

t.test('warm-up averages; then the EWMA; the band is mean ± sensitivity × deviation', async (t) => {
  // 10 alternating values: a plain average of the values and of the absolute deviations.
  const { baseline, anomalous } = feed([10, 12, 10, 12, 10, 12, 10, 12, 10, 12]);
  t.same(anomalous, new Array(10).fill(false), 'never anomalous while warming up');
  t.equal(baseline!.samples, 10);
  t.ok(close(baseline!.mean, 11), `mean ${baseline!.mean}`);
  // |x - mean before x|: 0 (first), 2, 0.6667, 1.5, 0.8, 1.3333, 0.8571, 1.25, 0.8889, 1.2; averaged over samples 2..10 with weight 1/n
  let mean = 10;
  let dev = 0;
  [12, 10, 12, 10, 12, 10, 12, 10, 12].forEach((x, i) => {
    const a = 1 / (i + 2);
    dev += a * (Math.abs(x - mean) - dev);
    mean += a * (x - mean);
  });
  t.ok(close(baseline!.deviation, dev), `deviation ${baseline!.deviation} = ${dev}`);
  t.ok(close(baseline!.upper, 11 + 3 * dev) && close(baseline!.lower, 11 - 3 * dev), 'band');
  // Past the warm-up the weight is alpha.
  const next = observe(baseline, 11.5, RULE);
  t.equal(next.anomalous, false);
  t.ok(close(next.baseline!.mean, 11 + 0.1 * 0.5), 'mean moves by alpha');
  t.ok(close(next.baseline!.deviation, dev + 0.1 * (0.5 - dev)), 'deviation moves by alpha');
});

t.test('a flat series gets a band of 5 % of its mean, not zero', async (t) => {
  const { baseline } = feed(new Array(12).fill(100));
  t.same(baseline, { mean: 100, deviation: 0, lower: 95, upper: 105, samples: 12 });
  t.equal(observe(baseline, 104, RULE).anomalous, false);
  t.equal(observe(baseline, 106, RULE).anomalous, true);
});

t.test('one spike does not fire; a sustained shift does (two evaluations, then the duration)', async (t) => {
  const T0 = 1_800_000_000_000;
  const base = feed(new Array(20).fill(0).map((_, i) => 100 + (i % 2 === 0 ? 5 : -5))).baseline;
  /** Evaluations every 10 s from the baseline: the state after each. */
  const states = (values: number[], durationMs: number): string[] => {
    let baseline = base;
    let phase: Phase | undefined;
    return values.map((v, i) => {
      const r = observe(baseline, v, RULE);
      baseline = r.baseline;
      phase = nextPhase(phase, r.anomalous, T0 + i * 10_000, durationMs, ANOMALY_MIN_EVALUATIONS).phase;
      return phase?.state ?? '-';
    });
  };
  t.same(states([100, 300, 100, 100], 0), ['-', 'pending', '-', '-'], 'a spike: pending for one evaluation, cleared');
  t.same(states([100, 200, 200, 200], 0), ['-', 'pending', 'firing', 'firing'], 'duration 0: fires at the second anomalous evaluation');
  t.same(states([200, 200, 200, 200, 200, 200, 200], 60_000), ['pending', 'pending', 'pending', 'pending', 'pending', 'pending', 'firing'], 'duration 60 s: fires after 60 s');
});

t.test('a lasting shift is absorbed slowly: anomalous values move the mean at alpha/10 and not the deviation', async (t) => {
  const start = feed(new Array(20).fill(0).map((_, i) => 100 + (i % 2 === 0 ? 5 : -5))).baseline!;
  const one = observe(start, 200, RULE);
  t.equal(one.anomalous, true);
  t.ok(close(one.baseline!.mean, start.mean + 0.01 * (200 - start.mean)), 'mean by alpha × 0.1');
  t.equal(one.baseline!.deviation, start.deviation, 'deviation unchanged');
  let baseline: Baseline | undefined = start;
  let anomalousFor = 0;
  while (observe(baseline, 200, RULE).anomalous) {
    baseline = observe(baseline, 200, RULE).baseline;
    anomalousFor++;
  }
  t.ok(anomalousFor > 100 && anomalousFor < 300, `anomalous for ${anomalousFor} evaluations (over 15 minutes at 10 s), then the new normal`);
});

t.test('direction from the condition; the threshold guard', async (t) => {
  const flat = feed(new Array(12).fill(100)).baseline!;
  t.same([outsideBand(flat, 110, 'above'), outsideBand(flat, 90, 'above'), outsideBand(flat, 90, 'below'), outsideBand(flat, 110, 'below'), outsideBand(flat, 90, 'either'), outsideBand(flat, 110, 'either')], [true, false, true, false, true, true]);
  t.equal(observe(flat, 50, { ...RULE, condition: 'lt' }).anomalous, true, 'a drop, lt');
  t.equal(observe(flat, 50, RULE).anomalous, false, 'a drop, gt: not this rule\'s direction');
  t.equal(observe(flat, 150, { ...RULE, threshold: 200 }).anomalous, false, 'outside the band but not above the guard');
  t.equal(observe(flat, 250, { ...RULE, threshold: 200 }).anomalous, true, 'outside the band and above the guard');
  t.same(observe(flat, NaN, RULE), { anomalous: false, baseline: flat }, 'no value: nothing learnt');
  t.equal(observe(undefined, 5, RULE).anomalous, false, 'the first value');
});
