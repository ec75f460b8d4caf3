/**
 * At most `perSecond` of something per second (live messages that follow
 * traffic: new_event, new_metric); the rest are counted, not sent. The
 * owner calls newSecond() every second.
 */
export class PerSecondBudget {
  private readonly perSecond: number;
  private used = 0;
  /** Taken since the start (sent). */
  taken = 0;
  /** Refused since the start (counted, not sent). */
  skipped = 0;

  constructor(perSecond: number) {
    this.perSecond = perSecond;
  }

  get exhausted(): boolean {
    return this.used >= this.perSecond;
  }

  /** One unit, if this second has one left. */
  take(): boolean {
    if (this.used >= this.perSecond) {
      this.skipped++;
      return false;
    }
    this.used++;
    this.taken++;
    return true;
  }

  /** `n` units that could not be offered at all (past the budget before being looked at). */
  skip(n: number): void {
    this.skipped += n;
  }

  newSecond(): void {
    this.used = 0;
  }
}
