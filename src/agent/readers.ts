/**
 * The engine and the capture as the server and the exporters may see them:
 * the store's read side, the health counters, the windows offered. Only the
 * composition root (agent.ts) — and tests that build a port on an engine —
 * hold an Engine; everyone else reads through these (src/server/sources.ts).
 */
import type { Capture } from '../capture/capture';
import type { Engine } from '../pipeline/engine';
import type { HealthSource, StoreReader } from '../server/sources';

export interface EngineReaders {
  store: StoreReader;
  health: HealthSource;
  /** The windows the API offers by default (window_sizes), in ms. */
  windowSizesMs: readonly number[];
}

/** `capture`: when capturing (its counters and attach results join the health). */
export function engineReaders(engine: Engine, capture?: Pick<Capture, 'stats' | 'attach' | 'tls'>): EngineReaders {
  const health: HealthSource = { engineStats: () => engine.stats() };
  if (capture) {
    health.captureStats = () => capture.stats();
    health.probes = capture.attach;
    const tls = capture.tls;
    if (tls) health.tlsFailures = () => tls.failures();
  }
  return { store: engine.store, health, windowSizesMs: engine.options.windowSizesMs };
}
