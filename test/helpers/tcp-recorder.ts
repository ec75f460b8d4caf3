/**
 * Real-kernel support for the TCP tests (test/kernel/tcp-*.test.ts): a
 * capture whose batches go both to a list of decoded TCP events and to an
 * engine, so a test checks the records and the series made from them.
 */
import { loadAddon } from '../../src/capture/addon-load';
import { Capture, type CaptureOptions } from '../../src/capture/capture';
import { wallMinusMonotonicNs } from '../../src/capture/clock';
import { decodeTcpEvents, type TcpEvent } from '../../src/capture/decoder';
import type { HistogramSummary, Selector } from '../../src/analytics/store';
import { Engine } from '../../src/pipeline/engine';
import { sleep } from './kernel';

export class TcpRecorder {
  private constructor(
    readonly engine: Engine,
    readonly capture: Capture,
    /** Every TCP event captured so far, in order. */
    readonly events: TcpEvent[],
  ) {}

  static async start(options: CaptureOptions): Promise<TcpRecorder> {
    const engine = await Engine.start({ workerThreads: 1, clockOffsetMs: Number(wallMinusMonotonicNs(loadAddon())) / 1e6 });
    const events: TcpEvent[] = [];
    const capture = Capture.start(options, (batch, records) => {
      events.push(...decodeTcpEvents(batch));
      engine.ingest(batch, records);
    });
    return new TcpRecorder(engine, capture, events);
  }

  /** Waits until pred holds over the events so far (then 200 ms more, for any extra); throws with what was seen on timeout. */
  async waitFor(what: string, pred: (events: TcpEvent[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.events)) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events:\n${this.events.map(describeTcp).join('\n')}`);
      await sleep(25);
    }
    await sleep(200);
  }

  /** A window over the last minute, one row per group of `by`: their values. */
  async values(selector: Selector): Promise<Record<string, number>> {
    await this.engine.sync();
    return Object.fromEntries(this.engine.store.window(selector, 60_000).map((r) => [(selector.by ?? []).map((l) => r.labels[l]).join(' '), r.summary.value]));
  }

  async histogram(selector: Selector): Promise<HistogramSummary | undefined> {
    await this.engine.sync();
    return this.engine.store.window({ ...selector, by: [] }, 60_000)[0]?.summary as HistogramSummary | undefined;
  }

  async stop(): Promise<void> {
    await this.capture.stop();
    await this.engine.stop();
  }
}

export function describeTcp(e: TcpEvent): string {
  return `${e.kind} ${e.direction} ${e.comm}[${e.tgid}] ${e.localAddress}:${e.localPort} -> ${e.peerAddress}:${e.peerPort} err=${e.error} dur=${e.durationNs} srtt=${e.srttUs}us segs=${e.segments}`;
}
