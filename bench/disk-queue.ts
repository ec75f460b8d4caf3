/**
 * The exporters' disk queue: records/s and MB/s of append (per fsync
 * policy), of peek + ack (the forwarder draining it, batches of --batch), and
 * of open (recovery: every record's CRC checked), in a temporary directory
 * (or --dir: put it on the volume the agent's data directory will use).
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/disk-queue.js [--record-kib 64] [--records 4000] [--batch 16] [--fsync interval,never,always] [--dir DIR]
 *
 * 'always' appends a tenth of --records (one disk flush each).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DiskQueue, type DiskQueueOptions } from '../src/exporters/disk-queue';

const { values } = parseArgs({
  options: {
    'record-kib': { type: 'string', default: '64' },
    records: { type: 'string', default: '4000' },
    batch: { type: 'string', default: '16' },
    fsync: { type: 'string', default: 'interval,never,always' },
    dir: { type: 'string' },
  },
});
const RECORD_BYTES = Number(values['record-kib']) * 1024;
const RECORDS = Number(values.records);
const BATCH = Number(values.batch);
const POLICIES = values.fsync!.split(',') as NonNullable<DiskQueueOptions['fsync']>[];

function rate(n: number, seconds: number): string {
  return `${(n / seconds).toFixed(0).padStart(7)} records/s ${((n * RECORD_BYTES) / 1e6 / seconds).toFixed(0).padStart(5)} MB/s`;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

function main(): void {
  const base = values.dir ?? os.tmpdir();
  const payload = Buffer.alloc(RECORD_BYTES);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919) & 0xff;
  console.log(`disk queue, ${RECORD_BYTES / 1024} KiB records, in ${base}`);
  for (const fsync of POLICIES) {
    const n = fsync === 'always' ? Math.max(1, Math.floor(RECORDS / 10)) : RECORDS;
    const dir = fs.mkdtempSync(path.join(base, 'disk-queue-bench-'));
    try {
      const options: DiskQueueOptions = { fsync, maxBytes: 2 * n * (RECORD_BYTES + 64) };
      let q = DiskQueue.open(dir, options);
      let start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) q.append(payload);
      const appendS = seconds(start);
      q.close();

      start = process.hrtime.bigint();
      q = DiskQueue.open(dir, options);
      const openS = seconds(start);

      start = process.hrtime.bigint();
      let drained = 0;
      for (;;) {
        const batch = q.peek(BATCH);
        if (batch.length === 0) break;
        drained += batch.length;
        q.ack(batch[batch.length - 1].seq);
      }
      const drainS = seconds(start);
      q.close();
      if (drained !== n) throw new Error(`drained ${drained} of ${n}`);
      console.log(`fsync ${fsync.padEnd(8)} append ${rate(n, appendS)} | open ${rate(n, openS)} | peek+ack ${rate(n, drainS)} (${n} records)`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

main();
