/** Messages between the engine and its shard workers. Every payload is plain data. */
import type { DeltaCell } from '../analytics/cells';
import type { ClusterSnapshot } from '../metadata/cluster-snapshot';
import type { ShardOptions, ShardStats } from './shard';

export type ShardWorkerData = Omit<ShardOptions, 'plugins'> & { processorModules: string[] };

export type ToShard =
  /** bytes: records back to back; its buffer is transferred to the worker. */
  | { type: 'batch'; bytes: Uint8Array; records: number }
  | { type: 'drain'; id: number }
  /** What the node knows of the cluster now (replaces the last). */
  | { type: 'cluster'; snapshot: ClusterSnapshot };

export type FromShard =
  | { type: 'ready' }
  | { type: 'ack'; records: number }
  | { type: 'delta'; id: number; cells: DeltaCell[]; stats: ShardStats }
  | { type: 'failed'; message: string };
