/**
 * The agent, and the one place that wires it: capture → engine → one HTTP
 * port (REST, /metrics, WebSocket). Every part is a Component (component.ts),
 * started in the order of the list in startAgent and shut down in reverse;
 * a part reads the ones before it through narrow views (readers.ts), never
 * their internals.
 *
 *   Capture (addon poll thread) --batches--> Engine.enqueue --> shards --> store
 *           ^                                  | held while the shards are full: the capture
 *           `--------- credit -----------------' leaves the burst in the kernel ring buffer
 *                               `--> onBatch (e.g. the demo's live lines)
 *                               `--> LiveHub (sampled exchanges for new_event)
 *   Fastify on address:port <-- REST, /metrics read the store and the stats; /ws/* (LiveHub)
 *   Alerting (alerting-part.ts) <-- reads the store every flush interval; events to the LiveHub,
 *                                   notifications to Alertmanager / webhooks; rules and incidents in SQLite
 *   Forwarder (forwarding-part.ts) <-- the store's rollup every interval, queued on disk, sent to
 *                                      remote-write and OTLP targets
 *   metadata (metadata-part.ts) --the node's pods and the Services--> shards, which name each
 *                                 exchange's workload from its cgroup (src/metadata/)
 *
 * stop() first says so (/readyz and /api/health answer 503 from then on),
 * detaches the programs and waits for the batches in flight, then closes the
 * port (its WebSocket clients too), stops alerting (what is queued for the
 * receivers gets a last attempt), closes the hub, then publishes and stops
 * the engine; it is idempotent.
 *
 * Diagnostics go to the logger given (src/log/), Fastify's included; the
 * agent's troubles are logged once per change (health-log.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Capture, OnBatch } from '../capture/capture';
import type { AgentConfig } from '../config/analytics-config';
import { probeListen } from '../config/port-probe';
import { TracerError } from '../errors';
import { silentLog, type Log } from '../log/logger';
import { Engine } from '../pipeline/engine';
import { buildApp, metricsPathConflict } from '../server/app';
import { LiveHub } from '../server/live/hub';
import { createExporter } from '../exporters/prometheus';
import { planAlerting, startAlerting } from './alerting-part';
import { component, startInOrder } from './component';
import { startHealthLog } from './health-log';
import { planForwarding, startForwarding } from './forwarding-part';
import { startMetadata } from './metadata-part';
import { engineReaders } from './readers';

export interface AgentParts {
  config: AgentConfig;
  /** Add to a CLOCK_MONOTONIC ms value to get Unix ms. */
  clockOffsetMs: number;
  /** Starts the capture with the consumer the agent gives it (load and attach happen here). */
  startCapture: (onBatch: OnBatch) => Capture;
  /** Where the agent's diagnostics go (Fastify's too); default nowhere. */
  log?: Log;
  /** Another consumer of every batch, after the engine (the demo's live lines). */
  alsoOnBatch?: (batch: Buffer, records: number) => void;
}

export interface Agent {
  /** Where the HTTP port really listens, as a URL (0.0.0.0 or :: when on every interface). */
  url: string;
  engine: Engine;
  capture: Capture;
  app: FastifyInstance;
  stop(): Promise<void>;
}

/**
 * What the configuration asks of the port that only the server can judge,
 * checked before anything is loaded (no engine, no eBPF): the metrics path
 * beside the port's own paths, and whether address:port can be bound.
 * Throws HT_ERR_OPTION naming the key.
 */
export async function checkServerConfig(config: AgentConfig): Promise<void> {
  const conflict = metricsPathConflict(config.server.metricsPath);
  if (conflict) throw new TracerError('HT_ERR_OPTION', `${config.sources['server.metricsPath']}: ${JSON.stringify(config.server.metricsPath)} ${conflict}`);
  await probeListen(config.server.address, config.server.port, { address: config.sources['server.address'], port: config.sources['server.port'] });
}

function urlOf(a: AddressInfo): string {
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

/** The address people reach the port at: a wildcard bind is reached by the host's name. */
function reachableUrl(config: AgentConfig, listening: string | undefined): string {
  const url = listening ?? `http://${config.server.address.includes(':') ? `[${config.server.address}]` : config.server.address}:${config.server.port}`;
  return url.replace(/^http:\/\/(0\.0\.0\.0|\[::\])(?=:)/, `http://${os.hostname()}`);
}

export async function startAgent(parts: AgentParts): Promise<Agent> {
  const { config } = parts;
  const log = parts.log ?? silentLog();
  const startedAtMs = Date.now();
  let stopping = false;
  // The rules and the alerting and forwarding targets are checked before anything loads (HT_ERR_OPTION, exit code 2).
  const alertingPlan = planAlerting(config, process.env);
  const forwardingPlan = planForwarding(config, process.env);

  // Live capture: the shards name each exchange's workload from this host's cgroups.
  const engine = component('engine', () => Engine.start({ ...config.options, clockOffsetMs: parts.clockOffsetMs, resolveWorkloads: true }, config.sources), (e) => e.stop());

  // Before the capture: the first exchanges already find the node's pods.
  const metadata = component(
    'metadata',
    () => startMetadata(process.env, (snapshot) => engine.value.setCluster(snapshot), log),
    (m) => m.shutdown(),
  );

  // Stopping resolves once the engine has queued every batch in flight.
  const capture = component(
    'capture',
    () =>
      parts.startCapture((batch, records) => {
        // Settles once a shard has the batch; until then its credit holds back the capture.
        const queued = engine.value.enqueue(batch, records);
        // Made once the capture runs; batches before that have no live listener anyway.
        live.current?.exchanges(batch, records, parts.clockOffsetMs);
        parts.alsoOnBatch?.(batch, records);
        return queued;
      }),
    (c) => c.stop(),
  );

  const live = component('live hub', () => new LiveHub(engine.value.store, config.live, config.security), (hub) => hub.close());

  const alerting = component(
    'alerting',
    () =>
      alertingPlan &&
      startAlerting(config, alertingPlan, {
        store: engine.value.store,
        intervalMs: engine.value.options.flushIntervalMs,
        live: live.value,
        dashboardUrl: () => reachableUrl(config, server.current?.url),
      }),
    (a) => a?.shutdown(),
  );

  // Before the server (which reads its stats); after the engine, whose last counts its shutdown flushes.
  const forwarding = component(
    'forwarding',
    () => forwardingPlan && startForwarding(config, forwardingPlan, engine.value.store, log),
    (f) => f?.shutdown(),
  );

  const server = component(
    'server',
    async () => {
      const readers = engineReaders(engine.value, capture.value);
      const forwarder = forwarding.value;
      if (forwarder) readers.health.forwarding = () => forwarder.stats();
      readers.health.metadata = () => metadata.value.status();
      readers.health.stopping = () => stopping;
      const running = alerting.value;
      if (running) {
        readers.health.alerting = () => ({ stats: running.alerting.stats(), targets: running.targets() });
      }
      const app = buildApp({
        ...readers,
        alerting: running?.alerting,
        scrape: createExporter(readers).scrape,
        startedAtMs,
        metricsPath: config.server.metricsPath,
        live: live.value,
        dashboard: config.server.enableDashboard,
        security: config.security,
        http: { maxConnections: config.server.maxConnections },
        log,
      });
      live.value.attach(app.server);
      try {
        await app.listen({ host: config.server.address, port: config.server.port });
      } catch (e) {
        await app.close();
        throw new TracerError('HT_ERR_LISTEN', `cannot listen on ${config.server.address}:${config.server.port}: ${(e as Error).message}`);
      }
      return { app, url: urlOf(app.server.address() as AddressInfo), health: readers.health };
    },
    ({ app }) => app.close(),
  );

  // Last: it reads what the server reads.
  const healthLog = component('health log', () => startHealthLog(server.value.health, log, startedAtMs), (h) => h.stop());

  // In order: each uses those before it. Shut down in reverse.
  const shutdown = await startInOrder([engine, metadata, capture, live, alerting, forwarding, server, healthLog]);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      stopping = true;
      // The programs first, while the port still answers /readyz with 503 (Kubernetes takes the pod out
      // of its endpoints); the rest in reverse order (capture's shutdown is then already done).
      try {
        await capture.shutdown();
      } finally {
        await shutdown();
      }
    })());
  return { url: server.value.url, engine: engine.value, capture: capture.value, app: server.value.app, stop };
}
