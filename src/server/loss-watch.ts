/**
 * Whether losses are rising: the lost total now against what it was about a
 * minute ago. The baseline is the agent's start (every loss counter starts at
 * 0 there), and samples are taken every SAMPLE_EVERY_MS by the owner's timer
 * as well as when asked, so losses before the first /api/health query count.
 */
const WINDOW_MS = 60_000;
export const SAMPLE_EVERY_MS = 5_000;

export class LossWatch {
  private readonly total: () => number;
  private readonly now: () => number;
  private readonly samples: { atMs: number; total: number }[];

  /** startedAtMs: when the counters behind `total` were 0 (the agent's start). */
  constructor(total: () => number, now: () => number = Date.now, startedAtMs: number = now()) {
    this.total = total;
    this.now = now;
    this.samples = [{ atMs: startedAtMs, total: 0 }];
  }

  /** Records the total now (at most one sample per SAMPLE_EVERY_MS) and forgets samples older than the window. */
  sample(): number {
    const now = this.now();
    const total = this.total();
    const last = this.samples[this.samples.length - 1];
    if (now - last.atMs >= SAMPLE_EVERY_MS) this.samples.push({ atMs: now, total });
    while (this.samples.length > 1 && this.samples[1].atMs <= now - WINDOW_MS) this.samples.shift();
    return total;
  }

  /** Exchanges lost in about the last minute. */
  recent(): number {
    return this.sample() - this.samples[0].total;
  }
}
