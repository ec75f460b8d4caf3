/**
 * The cardinality budget: at most `perService` series for one service and
 * `global` series in all. A series past either cap folds into its service's
 * overflow series (or the global one), and every fold is counted, so no input
 * can grow memory without bound and nothing is dropped silently.
 */
export const OVERFLOW = '__overflow__';

export interface SeriesBudgetLimits {
  perService: number;
  global: number;
}

/** Where an observation goes: its own series, or its service's or the global overflow series. */
export type Admission = 'admitted' | 'service' | 'global';

export interface SeriesBudgetStats {
  series: number;
  /** Observations folded into an overflow series, by service. */
  folded: Record<string, number>;
  foldedTotal: number;
}

export class SeriesBudget {
  private readonly limits: SeriesBudgetLimits;
  private readonly admitted = new Map<string, Set<string>>();
  private total = 0;
  private readonly folded = new Map<string, number>();
  private foldedTotal = 0;

  constructor(limits: SeriesBudgetLimits) {
    for (const [key, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`series budget ${key}: ${value} must be a positive integer`);
    }
    this.limits = limits;
  }

  /**
   * Whether `key` has (or now gets) a series of its own; if not, the overflow
   * it folds into: its service's when the service is full, the global one when
   * all services together are.
   */
  admit(service: string, key: string): Admission {
    let keys = this.admitted.get(service);
    if (keys?.has(key)) return 'admitted';
    const serviceFull = keys !== undefined && keys.size >= this.limits.perService;
    if (!serviceFull && this.total < this.limits.global) {
      if (!keys) this.admitted.set(service, (keys = new Set()));
      keys.add(key);
      this.total++;
      return 'admitted';
    }
    this.folded.set(service, (this.folded.get(service) ?? 0) + 1);
    this.foldedTotal++;
    return serviceFull ? 'service' : 'global';
  }

  /** Forget series that no longer hold data (expired windows), freeing budget. */
  release(service: string, key: string): void {
    const keys = this.admitted.get(service);
    if (keys?.delete(key)) {
      this.total--;
      if (keys.size === 0) this.admitted.delete(service);
    }
  }

  stats(): SeriesBudgetStats {
    return { series: this.total, folded: Object.fromEntries(this.folded), foldedTotal: this.foldedTotal };
  }
}
