/** A shard in a worker thread: batches in, acknowledgements and deltas out (shard-protocol.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { loadPlugins } from './plugins';
import { Shard } from './shard';
import type { FromShard, ShardWorkerData, ToShard } from './shard-protocol';

const port = parentPort;
if (!port) throw new Error('shard-worker: must run as a worker thread');
const post = (m: FromShard): void => port.postMessage(m);

try {
  const data = workerData as ShardWorkerData;
  const shard = new Shard({ ...data, plugins: loadPlugins(data.processorModules) });
  port.on('message', (m: ToShard) => {
    try {
      if (m.type === 'batch') {
        shard.ingest(m.bytes);
        post({ type: 'ack', records: m.records });
      } else if (m.type === 'cluster') {
        shard.setCluster(m.snapshot);
      } else {
        post({ type: 'delta', id: m.id, cells: shard.drain(), stats: shard.stats() });
      }
    } catch (e) {
      post({ type: 'failed', message: (e as Error).stack ?? String(e) });
    }
  });
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'failed', message: (e as Error).message });
}
