/**
 * The processor contract (seed 002, "Custom Processors"). A processor plugin
 * names the metric families it writes and creates, per shard, a processor
 * that turns batches of enriched exchanges into writes on those families.
 *
 * A plugin module for `processors` in the configuration exports one
 * ProcessorPlugin as `default` (or `module.exports`); every worker loads it.
 */
import { FAMILIES, type MetricFamily } from '../analytics/families';
import { DeltaTable, IdentitySeries, type ProcessorStats } from './delta-table';
import type { ExchangeGroup, Identity } from './exchange-event';
import type { TcpGroup, TcpIdentity } from './tcp-event';
import type { Workload } from '../metadata/workload';

export interface Processor {
  /**
   * Called on the shard's thread with a batch's exchanges, grouped by identity
   * and bucket: groups[0, count). Must not keep a group after returning.
   */
  process(groups: readonly ExchangeGroup[], count: number): void;
  /** Optional: the batch's TCP events (connects, accepts, closes, retransmits, resets), grouped the same way; called when there are any. */
  processTcp?(groups: readonly TcpGroup[], count: number): void;
}

export interface ProcessorContext {
  /** A handle on `family` for series whose labels follow from the group's identity (undefined: none). */
  identitySeries(family: string, labelsOf: (id: Identity) => string[] | undefined): IdentitySeries;
  /** The same for TCP event groups. */
  tcpSeries(family: string, labelsOf: (id: TcpIdentity) => string[] | undefined): IdentitySeries<TcpIdentity>;
}

export interface ProcessorPlugin {
  name: string;
  families: readonly MetricFamily[];
  create(context: ProcessorContext): Processor;
}

/** The context given to one plugin in one shard: handles bound to that shard's table and the plugin's stats. */
export function processorContext(plugin: ProcessorPlugin, table: DeltaTable, enabled: ReadonlySet<string>, stats: ProcessorStats, nextSlot: () => number): ProcessorContext {
  const familyIndex = (name: string): number => {
    const f = table.families.findIndex((family) => family.name === name);
    if (f < 0 || !plugin.families.some((family) => family.name === name)) {
      throw new Error(`processor ${plugin.name}: family ${JSON.stringify(name)} is not one of its declared families`);
    }
    return f;
  };
  return {
    identitySeries: (family, labelsOf) => new IdentitySeries(table, familyIndex(family), nextSlot(), enabled.has(family), labelsOf, stats),
    tcpSeries: (family, labelsOf) => new IdentitySeries<TcpIdentity>(table, familyIndex(family), nextSlot(), enabled.has(family), labelsOf, stats),
  };
}

export const familiesOf = (processor: string): MetricFamily[] => FAMILIES.filter((f) => f.processor === processor);

/** A network family's label values: the given ones, then the workload's (families.ts appends WORKLOAD_LABELS). Made once per identity. */
export const workloadLabels = (id: { readonly workload: Workload }, ...values: string[]): string[] => [...values, ...id.workload.labels];

/** A TCP family's label values: the given ones, then server_port and peer, then the workload's (families.ts' TCP_IDENTITY). */
export const tcpLabels = (id: TcpIdentity, ...values: string[]): string[] => [...values, id.serverPort, id.peer, ...id.workload.labels];

/** An HTTP family's label values: the given ones, then the workload's, then server_address. */
export const httpLabels = (id: Identity, ...values: string[]): string[] => [...values, ...id.workload.labels, id.serverAddress];
