/**
 * The cardinality budget, by dimension. A new series is placed on its
 * family's fold ladder (fold-plan.ts) at the first step whose series is
 * already held or has room:
 *
 *   services:  at most `services` distinct services hold series; a service
 *              past the cap is placed as the service OVERFLOW (reason "service")
 *   a service: its own series while it holds fewer than `perService` less a
 *              tenth (kept for folded series); then the route folds, then the
 *              other labels of the ladder (reason "route"), up to `perService`
 *   floors:    a service's floor series (service, side, status class, error
 *              type …: bounded by construction) do not count against
 *              `perService`, so a service's totals, errors and status classes
 *              are always its own
 *   global:    at most `global` series; all but a fifth of it for series above
 *              a floor, the rest kept for floors. With no room at all, the
 *              series goes to the OVERFLOW service's floor (reason "global"),
 *              which always exists and is not counted
 *
 * So every observation is counted somewhere, status classes and error types
 * never fold, and memory is bounded. Held series are released by the owner
 * (the store when a series goes idle, a shard when a bucket is published).
 */
import { budgetKey, seriesKey, type MetricFamily } from './families';
import { foldPlanOf, OVERFLOW } from './fold-plan';

export { OVERFLOW } from './fold-plan';

export interface SeriesBudgetLimits {
  /** Series one service may hold above its floor. */
  perService: number;
  /** Distinct services holding series (the OVERFLOW service aside). Default 500. */
  services?: number;
  /** Series in all (the OVERFLOW service's floor aside). */
  global: number;
  /** A series with no data for this long gives its budget back (the store; its data stays queryable). Default 15 min. */
  idleMs?: number;
}

export const DEFAULT_SERIES_LIMITS: Required<SeriesBudgetLimits> = { perService: 1000, services: 500, global: 10_000, idleMs: 15 * 60_000 };

/**
 * Why a series was folded: "route", the service's own budget was spent (its
 * route folded first, then the rest of the ladder; the service stayed);
 * "service", too many services (it went to the OVERFLOW service); "global",
 * all series were spent (it went to the OVERFLOW service's floor).
 */
export type FoldReason = 'route' | 'service' | 'global';

export interface Placement {
  /** The series to write: the observation's own labels, or folded ones. */
  labels: string[];
  key: string;
  /** Why the labels are folded (here or before, by a shard); undefined when they are the series' own. */
  folded: FoldReason | undefined;
}

export interface SeriesBudgetStats {
  /** Series held (counted against `global`). */
  series: number;
  /** Services holding series. */
  services: number;
  /** Placements into a folded series, by reason (one per series update: a delta cell at the store). */
  folded: Record<FoldReason, number>;
  foldedTotal: number;
}

interface ServiceUsage {
  /** Series held above the floor, and floor series. */
  series: number;
  floors: number;
}

interface Holding {
  service: string;
  usage: ServiceUsage;
  floor: boolean;
}

export class SeriesBudget {
  private readonly limits: Required<SeriesBudgetLimits>;
  private readonly held = new Map<string, Holding>();
  private readonly usage = new Map<string, ServiceUsage>();
  private total = 0;
  private readonly folded: Record<FoldReason, number> = { route: 0, service: 0, global: 0 };
  /** What a service keeps for series with a folded route, and what `global` keeps for floors. */
  private readonly foldedReserve: number;
  private readonly floorReserve: number;

  constructor(limits: SeriesBudgetLimits) {
    const complete = { ...DEFAULT_SERIES_LIMITS, ...limits };
    for (const [key, value] of Object.entries(complete)) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`series budget ${key}: ${value} must be a positive integer`);
    }
    this.limits = complete;
    this.foldedReserve = Math.floor(complete.perService / 10);
    this.floorReserve = Math.floor(complete.global / 5);
  }

  /** Where a series not held yet goes: its own labels, or the first step of its ladder that is held or has room. It is held on return. */
  place(family: MetricFamily, labels: readonly string[]): Placement {
    const plan = foldPlanOf(family);
    let service = labels[plan.serviceIndex];
    if (service !== OVERFLOW && !this.usage.has(service) && this.serviceCount() >= this.limits.services) service = OVERFLOW;
    for (let step = 0; step <= plan.floor; step++) {
      const placed = plan.labelsAt(labels, step, service);
      const key = seriesKey(placed);
      const id = budgetKey(family, key);
      const floor = step === plan.floor;
      if (this.held.has(id) || this.hold(id, service, floor, step)) {
        return { labels: placed, key, folded: this.count(plan.isFolded(placed) ? (service === OVERFLOW ? 'service' : 'route') : undefined) };
      }
    }
    const placed = plan.labelsAt(labels, plan.floor, OVERFLOW);
    const key = seriesKey(placed);
    const id = budgetKey(family, key);
    if (!this.held.has(id)) this.hold(id, OVERFLOW, true, plan.floor);
    return { labels: placed, key, folded: this.count('global') };
  }

  /** The series `key` of `family` gives its budget back (idle, or forgotten). No-op when not held. */
  release(family: MetricFamily, key: string): void {
    const id = budgetKey(family, key);
    const h = this.held.get(id);
    if (!h) return;
    this.held.delete(id);
    if (h.floor) h.usage.floors--;
    else h.usage.series--;
    if (h.usage.series + h.usage.floors === 0) this.usage.delete(h.service);
    if (counted(h.service, h.floor)) this.total--;
  }

  stats(): SeriesBudgetStats {
    const folded = { ...this.folded };
    return { series: this.total, services: this.serviceCount(), folded, foldedTotal: folded.route + folded.service + folded.global };
  }

  /** Holds `id` when the service and the whole budget have room for it at this step. */
  private hold(id: string, service: string, floor: boolean, step: number): boolean {
    const usage = this.usage.get(service);
    if (counted(service, floor)) {
      const globalRoom = floor ? this.limits.global : this.limits.global - this.floorReserve;
      if (this.total >= globalRoom) return false;
      const serviceRoom = step === 0 ? this.limits.perService - this.foldedReserve : this.limits.perService;
      if (!floor && (usage?.series ?? 0) >= serviceRoom) return false;
      this.total++;
    }
    const u = usage ?? { series: 0, floors: 0 };
    if (!usage) this.usage.set(service, u);
    if (floor) u.floors++;
    else u.series++;
    this.held.set(id, { service, usage: u, floor });
    return true;
  }

  private count(reason: FoldReason | undefined): FoldReason | undefined {
    if (reason) this.folded[reason]++;
    return reason;
  }

  private serviceCount(): number {
    return this.usage.size - (this.usage.has(OVERFLOW) ? 1 : 0);
  }
}

/** The OVERFLOW service's floor is the last resort: always there, never counted. */
const counted = (service: string, floor: boolean): boolean => !(floor && service === OVERFLOW);
