/**
 * The agent's forwarding part: the targets of the configuration and the
 * environment, checked before anything loads (planForwarding), then the
 * rollups of the store queued and sent to them (startForwarding; see
 * src/exporters/forwarder.ts). Off when no target is given.
 */
import type { AgentConfig } from '../config/analytics-config';
import { nodeName } from '../config/node-name';
import { collectRollup } from '../exporters/collect';
import { Forwarder } from '../exporters/forwarder';
import { forwardingConfig, type ForwardingConfig } from '../exporters/forwarding-config';
import { otlpScopeVersion } from '../exporters/otlp/encode';
import type { Log } from '../log/logger';
import type { StoreReader } from '../server/sources';

/** The targets and their settings, or undefined when nothing is to be forwarded. Throws HT_ERR_OPTION naming the key or variable. */
export function planForwarding(config: AgentConfig, env: NodeJS.ProcessEnv): ForwardingConfig | undefined {
  const plan = forwardingConfig(config.forwarding.raw, config.forwarding.where, env);
  return plan.targets.length > 0 ? plan : undefined;
}

/** Opens the target queues under the data directory (HT_ERR_DATA_DIR when it cannot) and starts flushing and sending. */
export function startForwarding(config: AgentConfig, plan: ForwardingConfig, store: StoreReader, log: Log): Forwarder {
  const forwarder = new Forwarder({
    log,
    config: plan,
    dataDir: config.data.dir,
    collect: (nowMs) => collectRollup(store, nowMs),
    resource: { 'host.name': nodeName(), 'service.name': 'ebpf-http-tracer', 'service.version': otlpScopeVersion() },
  });
  forwarder.start();
  return forwarder;
}
