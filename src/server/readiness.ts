/**
 * Whether the agent does its job right now: ready while it is capturing (at
 * least one eBPF program attached, not shutting down) and its engine runs.
 * The one definition behind GET /readyz (200 or 503) and the "unhealthy"
 * status of GET /api/health (503):
 *
 *   not ready  stopping             stop() began (SIGTERM, Ctrl-C): the programs detach, the port closes next
 *              engine stopped       nothing counts the exchanges any more
 *              no worker left       every shard worker exited: the same, seen from inside
 *              no probe attached    the capture loaded but sees nothing
 *   ready      the rest; partial troubles (some probes missing, losses,
 *              failing targets) make /api/health "degraded", still 200
 *
 * Reads only what is cheap (the engine's counters, the fixed attach
 * results): probes may call it every second.
 */
import type { HealthSource } from './sources';

export interface Readiness {
  ready: boolean;
  /** One line for people: why not, or what "ready" rests on. */
  reason: string;
}

export function readinessOf(health: HealthSource): Readiness {
  if (health.stopping?.()) return { ready: false, reason: 'stopping: the agent is shutting down' };
  const engine = health.engineStats();
  if (engine.status === 'stopped') return { ready: false, reason: 'the analytics engine is stopped' };
  if (engine.workersAlive === 0) return { ready: false, reason: `every analytics worker exited (0/${engine.workerThreads}): nothing counts the exchanges` };
  const probes = health.probes;
  // A port built on an engine alone (tests, a replay) has no capture to wait for.
  if (!probes) return { ready: true, reason: 'engine running (no capture in this process)' };
  const attached = probes.filter((p) => p.attached).length;
  if (attached === 0) return { ready: false, reason: `no eBPF program attached (0/${probes.length}): nothing is captured` };
  return { ready: true, reason: `capturing: ${attached}/${probes.length} probes attached, engine running` };
}
