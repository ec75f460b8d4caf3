/**
 * Whether losses are rising: the lost total now against what it was about a
 * minute ago, from samples taken when asked (no timer of its own).
 */
const WINDOW_MS = 60_000;
const SAMPLE_EVERY_MS = 5_000;

export class LossWatch {
  private readonly total: () => number;
  private readonly now: () => number;
  private samples: { atMs: number; total: number }[] = [];

  constructor(total: () => number, now: () => number = Date.now) {
    this.total = total;
    this.now = now;
  }

  /** Exchanges lost in about the last minute. */
  recent(): number {
    const now = this.now();
    const total = this.total();
    const last = this.samples[this.samples.length - 1];
    if (!last || now - last.atMs >= SAMPLE_EVERY_MS) this.samples.push({ atMs: now, total });
    while (this.samples.length > 1 && this.samples[1].atMs <= now - WINDOW_MS) this.samples.shift();
    return total - this.samples[0].total;
  }
}
