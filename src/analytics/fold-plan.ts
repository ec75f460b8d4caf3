/**
 * How a family's series fold when the cardinality budget is tight: a ladder
 * of steps from the series' own labels (step 0) to its floor (the last step),
 * each step folding one more label, in the family's `foldOrder` — the route
 * first, as it alone has no bound. The floor keeps only the labels in
 * `keptOnOverflow`, which come from small closed sets (service, side, method,
 * status class, error type), so a service's floor is bounded by construction
 * and can always be admitted.
 *
 *   [api:80 server 80 GET /users/{id} 503]      step 0, its own series
 *   [api:80 server 80 GET __overflow__ 503]     step 1, route folded
 *   [api:80 server __overflow__ GET __overflow__ 503]
 *   [api:80 server __overflow__ __overflow__ __overflow__ 5xx]   the floor
 *
 * A folded label reads OVERFLOW, except status_code, which folds to its class
 * ("503" → "5xx"; "0", no status, stays "0"), and an empty label (a server
 * side's server_address: no such label) stays empty: every query that tells errors by
 * their code ("[45]..|0") or groups codes by class stays exact on folded
 * series, and no label ever reads a made-up value.
 */
import type { MetricFamily } from './families';

/** The value of a folded label (status_code excepted), and of the service that services past the cap fold into. */
export const OVERFLOW = '__overflow__';

const STATUS_CODE = 'status_code';

/** "503" → "5xx"; "0" (no status) stays "0"; a class stays itself. */
export function statusCodeClass(code: string): string {
  if (code === '0') return code;
  return /^[1-9]/.test(code) ? `${code[0]}xx` : OVERFLOW;
}

export class FoldPlan {
  readonly serviceIndex: number;
  /** Per step, the indexes of the labels folded; the last step is the floor. */
  private readonly steps: number[][];
  private readonly statusIndex: number;

  constructor(family: MetricFamily) {
    const index = (name: string): number => {
      const i = family.labels.indexOf(name);
      if (i < 0) throw new Error(`family ${family.name}: ${JSON.stringify(name)} is not one of its labels`);
      return i;
    };
    this.serviceIndex = index(family.serviceLabel);
    this.statusIndex = family.labels.indexOf(STATUS_CODE);
    const kept = new Set([family.serviceLabel, ...family.keptOnOverflow]);
    const folded: number[] = [];
    this.steps = [[]];
    for (const name of family.foldOrder ?? []) {
      if (kept.has(name)) throw new Error(`family ${family.name}: ${name} is both in foldOrder and keptOnOverflow`);
      folded.push(index(name));
      this.steps.push([...folded]);
    }
    const rest = family.labels.map((_, i) => i).filter((i) => !kept.has(family.labels[i]) && !folded.includes(i));
    if (rest.length > 0) this.steps.push([...folded, ...rest]);
  }

  /** The last step: only kept labels keep their values. */
  get floor(): number {
    return this.steps.length - 1;
  }

  /** The labels at `step`, with `service` as the service (its own, or OVERFLOW). */
  labelsAt(labels: readonly string[], step: number, service: string): string[] {
    const out = labels.slice();
    out[this.serviceIndex] = service;
    for (const i of this.steps[step]) out[i] = i === this.statusIndex ? statusCodeClass(labels[i]) : labels[i] === '' ? '' : OVERFLOW;
    return out;
  }

  /** Whether any label of `labels` holds a folded value (folded here, or earlier by a shard). */
  isFolded(labels: readonly string[]): boolean {
    for (const i of this.steps[this.floor]) {
      const value = labels[i];
      if (value === OVERFLOW || (i === this.statusIndex && value !== '0' && value === statusCodeClass(value))) return true;
    }
    return labels[this.serviceIndex] === OVERFLOW;
  }
}

const plans = new WeakMap<MetricFamily, FoldPlan>();

/** The family's plan, made once. */
export function foldPlanOf(family: MetricFamily): FoldPlan {
  let plan = plans.get(family);
  if (!plan) plans.set(family, (plan = new FoldPlan(family)));
  return plan;
}
