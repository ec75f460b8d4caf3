/**
 * How many messages one WebSocket client may send: a token bucket
 * (`perSecond` refill, `burst` capacity), checked in O(1) per message. A
 * message without a token is refused (answered with an error, not handled);
 * a client that goes on sending `burst` more refused messages in a row is
 * flooding and gets closed.
 */
export interface MessageRateLimits {
  perSecond: number;
  burst: number;
}

export type Admission = 'handle' | 'refuse' | 'close';

export class MessageRate {
  private readonly limits: MessageRateLimits;
  private readonly clock: () => number;
  private tokens: number;
  private atMs: number;
  private refusedInARow = 0;

  constructor(limits: MessageRateLimits, clock: () => number = () => performance.now()) {
    this.limits = limits;
    this.clock = clock;
    this.tokens = limits.burst;
    this.atMs = clock();
  }

  admit(): Admission {
    const now = this.clock();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.atMs) * this.limits.perSecond) / 1000);
    this.atMs = now;
    if (this.tokens >= 1) {
      this.tokens--;
      this.refusedInARow = 0;
      return 'handle';
    }
    return ++this.refusedInARow >= this.limits.burst ? 'close' : 'refuse';
  }
}
