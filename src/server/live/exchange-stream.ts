/**
 * Captured exchanges as new_event data, for subscribers of the exchange
 * stream. Called on the capture path (once per batch, only while someone
 * listens): records are decoded only while the per-second budget lasts, the
 * rest counted. What leaves is fit to leave: the target redacted
 * (src/capture/redact.ts), captured strings with control characters
 * escaped (src/server/safe-text.ts). error_type is RED's rule
 * (src/analytics/red.ts), so the dashboard marks what the metrics count.
 */
import { errorTypeOf } from '../../analytics/red';
import { formatEndpoint } from '../../capture/address';
import { ExchangeCursor } from '../../capture/decoder';
import { redactTarget } from '../../capture/redact';
import { escapeControl } from '../safe-text';
import { PerSecondBudget } from './per-second-budget';

export class ExchangeStream {
  readonly budget: PerSecondBudget;
  private readonly redactPatterns: readonly RegExp[];

  constructor(maxEventsPerSecond: number, redactPatterns: readonly RegExp[]) {
    this.budget = new PerSecondBudget(maxEventsPerSecond);
    this.redactPatterns = redactPatterns;
  }

  /** The new_event data (JSON text, one per exchange sent) of a batch of `records` raw records. */
  events(batch: Uint8Array, records: number, clockOffsetMs: number): string[] {
    const out: string[] = [];
    const cursor = new ExchangeCursor(batch);
    while (!this.budget.exhausted && cursor.next()) {
      const e = cursor.toExchange();
      this.budget.take();
      out.push(
        JSON.stringify({
          time: new Date(Number(e.startMonotimeNs) / 1e6 + clockOffsetMs).toISOString(),
          side: e.direction,
          pid: e.tgid,
          process: escapeControl(e.comm),
          local: formatEndpoint(e.localAddress, e.localPort),
          peer: formatEndpoint(e.peerAddress, e.peerPort),
          method: escapeControl(e.method),
          target: escapeControl(redactTarget(e.target, this.redactPatterns)),
          status: e.status,
          aborted: e.aborted,
          // The rule tells only a reset from any other end of an aborted exchange.
          error_type: errorTypeOf(e.direction, e.status, e.aborted ? (e.flags.includes('reset') ? 'reset' : 'closed') : ''),
          duration_ms: e.durationNs / 1e6,
          request_bytes: e.requestBytes,
          response_bytes: e.responseBytes,
        }),
      );
    }
    this.budget.skip(records - out.length);
    return out;
  }
}
