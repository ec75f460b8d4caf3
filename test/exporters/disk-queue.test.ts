/**
 * The exporters' disk queue: order, acks, restarts, the byte bound, damage
 * found at open (a torn tail, a flipped byte), a writer SIGKILLed mid-loop,
 * records larger than a segment, stats, close, unusable directories. Sizes
 * are chosen so that every count can be worked out by hand: a record is a
 * 40-byte header plus its payload.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32c } from '../../src/exporters/crc32c';
import { DiskQueue, RECORD_HEADER_BYTES, type DiskQueueOptions } from '../../src/exporters/disk-queue';
import { TracerError } from '../../src/errors';
import { recordBody } from '../fixtures/disk-queue-writer';

const ROOT = path.join(__dirname, '..', '..');
const H = RECORD_HEADER_BYTES;

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracer-queue-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A queue closed at the end of the test (closing twice is fine). */
function open(t: Test, dir: string, options?: DiskQueueOptions): DiskQueue {
  const q = DiskQueue.open(dir, options);
  t.teardown(() => q.close());
  return q;
}

/** n bytes that say which record they are. */
function body(n: number, size = 100): Buffer {
  const b = Buffer.alloc(size, n & 0xff);
  b.write(`record ${n}`.slice(0, size), 'latin1');
  return b;
}

function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();
}

function segName(seq: number): string {
  return `${String(seq).padStart(20, '0')}.seg`;
}

function seqs(q: DiskQueue): number[] {
  return q.peek(1e9).map((r) => r.seq);
}

t.test('CRC-32C: the standard check values, and in pieces the same as whole', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  t.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa, '32 zero bytes (RFC 3720)');
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43, '32 0xff bytes (RFC 3720)');
  t.equal(crc32c(Buffer.alloc(0)), 0);
  const b = Buffer.from(Array.from({ length: 1001 }, (_, i) => (i * 37) & 0xff));
  for (const cut of [0, 1, 7, 8, 500, 1001]) t.equal(crc32c(b.subarray(cut), crc32c(b.subarray(0, cut))), crc32c(b), `cut at ${cut}`);
});

t.test('append, peek, ack: in order, peek does not remove, ack does', async (t) => {
  const q = open(t, tmpDir(t));
  const sizes = [100, 0, 5000, 1, 100];
  for (let i = 0; i < sizes.length; i++) {
    const r = q.append(body(i + 1, sizes[i]));
    t.equal(r.seq, i + 1);
  }
  const all = q.peek(10);
  t.strictSame(all.map((r) => r.seq), [1, 2, 3, 4, 5]);
  for (const r of all) t.ok(r.data.equals(body(r.seq, sizes[r.seq - 1])), `record ${r.seq} byte for byte`);
  t.strictSame(seqs(q), [1, 2, 3, 4, 5], 'peek again: the same');
  t.strictSame(q.peek(2).map((r) => r.seq), [1, 2]);
  t.strictSame(q.peek(10, 100).map((r) => r.seq), [1, 2], 'maxBytes 100: 100 + 0 bytes, not the 5000 after');
  t.strictSame(q.peek(10, 10).map((r) => r.seq), [1], 'at least one record, even past maxBytes');
  t.strictSame(q.peek(0), []);

  q.ack(2);
  t.strictSame(seqs(q), [3, 4, 5]);
  q.ack(2);
  q.ack(1);
  t.strictSame(seqs(q), [3, 4, 5], 'acking behind the position changes nothing');
  t.throws(() => q.ack(6), RangeError, 'a seq not appended yet');
  t.throws(() => q.ack(-1), RangeError);
  t.throws(() => q.ack(2.5), RangeError);
  t.match(q.stats(), { records: 3, appended: 5, acked: 2 });
  q.ack(5);
  t.strictSame(q.peek(10), []);
  t.match(q.stats(), { records: 0, appended: 5, acked: 5, oldestAppendedAt: undefined });
  t.equal(q.append(body(6)).seq, 6);
  t.strictSame(seqs(q), [6]);
});

t.test('ack unlinks whole segments only', async (t) => {
  const dir = tmpDir(t);
  // 140-byte records, 3 to a 420-byte segment.
  const q = open(t, dir, { segmentBytes: 3 * (H + 100) });
  for (let i = 1; i <= 9; i++) q.append(body(i));
  t.strictSame(segmentFiles(dir), [segName(1), segName(4), segName(7)], 'segments named by their first seq');
  q.ack(2);
  t.strictSame(segmentFiles(dir), [segName(1), segName(4), segName(7)], 'segment 1 is partly acked: kept');
  t.match(q.stats(), { records: 7, segments: 3, bytes: 9 * 140 });
  q.ack(3);
  t.strictSame(segmentFiles(dir), [segName(4), segName(7)]);
  q.ack(8);
  t.strictSame(segmentFiles(dir), [segName(7)]);
  t.match(q.stats(), { records: 1, segments: 1, bytes: 3 * 140 });
  q.ack(9);
  t.strictSame(segmentFiles(dir), [], 'the active segment too, when wholly acked');
  t.match(q.stats(), { records: 0, segments: 0, bytes: 0 });
  t.equal(q.append(body(10)).seq, 10);
  t.strictSame(segmentFiles(dir), [segName(10)]);
  t.equal(fs.readFileSync(path.join(dir, 'acked'), 'latin1'), '9\n');
});

t.test('reopened: acked records gone, the rest first and in order, seq carries on', async (t) => {
  const dir = tmpDir(t);
  const options = { segmentBytes: 3 * (H + 100) };
  let q = DiskQueue.open(dir, options);
  for (let i = 1; i <= 7; i++) q.append(body(i));
  q.ack(4);
  q.close();

  q = open(t, dir, options);
  const records = q.peek(100);
  t.strictSame(records.map((r) => r.seq), [5, 6, 7]);
  for (const r of records) t.ok(r.data.equals(body(r.seq)), `record ${r.seq} byte for byte`);
  t.match(q.stats(), { records: 3, appended: 0, acked: 0, tornRecords: 0 });
  t.equal(q.append(body(8)).seq, 8);
  t.strictSame(seqs(q), [5, 6, 7, 8]);
  q.ack(8);
  q.close();
  t.strictSame(segmentFiles(dir), []);

  q = open(t, dir, options);
  t.strictSame(q.peek(100), [], 'all acked: nothing sent again');
  t.equal(q.append(body(9)).seq, 9, 'no segment left: the seq comes from the ack file');
  q.close();

  q = open(t, dir, { ...options, fsync: 'always' });
  t.strictSame(seqs(q), [9], 'not acked: sent again');
  q.close();
});

t.test('the byte bound: the oldest segments go, counted exactly; the newest stay', async (t) => {
  const dir = tmpDir(t);
  // Segments of 3 records (420 bytes), at most 1000 bytes: two segments and a record or two.
  const q = open(t, dir, { segmentBytes: 420, maxBytes: 1000 });
  for (let i = 1; i <= 20; i++) {
    q.append(body(i), 100 + i);
    t.ok(q.stats().bytes <= 1000, `within the bound after ${i}`);
  }
  // Record 8 dropped 1–3, 11 dropped 4–6, 14: 7–9, 17: 10–12, 20: 13–15.
  t.match(q.stats(), { records: 5, bytes: 5 * 140, segments: 2, droppedRecords: 15, droppedSegments: 5, droppedWeight: 15 * 100 + (15 * 16) / 2, appended: 20 });
  t.strictSame(segmentFiles(dir), [segName(16), segName(19)]);
  const records = q.peek(100);
  t.strictSame(records.map((r) => r.seq), [16, 17, 18, 19, 20]);
  for (const r of records) t.ok(r.data.equals(body(r.seq)));
  t.strictSame(records.map((r) => r.weight), [116, 117, 118, 119, 120], 'each record keeps its weight');

  t.test('records acked before their segment is dropped are not counted as dropped', async (t) => {
    const q = open(t, tmpDir(t), { segmentBytes: 420, maxBytes: 1000 });
    for (let i = 1; i <= 7; i++) q.append(body(i));
    q.ack(2);
    q.append(body(8)); // drops segment 1: only record 3 was not delivered
    t.match(q.stats(), { droppedRecords: 1, droppedSegments: 1, droppedWeight: 0, records: 5, acked: 2 });
    t.strictSame(seqs(q), [4, 5, 6, 7, 8]);
  });
});

t.test('a torn last record: skipped and counted, the rest intact, appends go on', async (t) => {
  for (const [what, cut] of [
    ['in its payload', 5],
    ['in its header', 100 + H - 10],
  ] as const) {
    t.test(`cut ${what}`, async (t) => {
      const dir = tmpDir(t);
      let q = DiskQueue.open(dir);
      for (let i = 1; i <= 3; i++) q.append(body(i));
      q.close();
      const file = path.join(dir, segName(1));
      fs.truncateSync(file, 3 * 140 - cut);

      q = open(t, dir);
      t.equal(q.stats().tornRecords, 1);
      const records = q.peek(100);
      t.strictSame(records.map((r) => r.seq), [1, 2]);
      for (const r of records) t.ok(r.data.equals(body(r.seq)));
      t.equal(fs.statSync(file).size, 2 * 140, 'the torn end cut off');
      const next = q.append(body(4)).seq;
      // A header that survived keeps its seq from being given again; a torn header cannot.
      t.equal(next, what === 'in its payload' ? 4 : 3);
      q.close();

      q = open(t, dir);
      t.strictSame(seqs(q), [1, 2, next]);
      t.equal(q.stats().tornRecords, 0, 'nothing damaged left');
      t.ok(q.peek(100)[2].data.equals(body(4)));
    });
  }

  t.test('zeros after the last record (the size reached the disk, the data did not)', async (t) => {
    const dir = tmpDir(t);
    let q = DiskQueue.open(dir);
    for (let i = 1; i <= 2; i++) q.append(body(i));
    q.close();
    fs.appendFileSync(path.join(dir, segName(1)), Buffer.alloc(4096));
    q = open(t, dir);
    t.equal(q.stats().tornRecords, 1);
    t.strictSame(seqs(q), [1, 2]);
    t.equal(fs.statSync(path.join(dir, segName(1))).size, 2 * 140);
  });
});

t.test('a flipped byte in a middle record: that record skipped and counted, the others intact', async (t) => {
  for (const [what, offset] of [
    ['its payload', H + 50],
    ['its length (header)', 8],
    ['its magic', 0],
  ] as const) {
    t.test(`in ${what}`, async (t) => {
      const dir = tmpDir(t);
      let q = DiskQueue.open(dir);
      for (let i = 1; i <= 5; i++) q.append(body(i));
      q.close();
      const file = path.join(dir, segName(1));
      const bytes = fs.readFileSync(file);
      bytes[2 * 140 + offset] ^= 0x10; // record 3
      fs.writeFileSync(file, bytes);

      q = open(t, dir);
      t.equal(q.stats().tornRecords, 1);
      t.equal(q.stats().records, 4);
      const records = q.peek(100);
      t.strictSame(records.map((r) => r.seq), [1, 2, 4, 5]);
      for (const r of records) t.ok(r.data.equals(body(r.seq)));
      t.equal(q.append(body(6)).seq, 6);
      t.strictSame(seqs(q), [1, 2, 4, 5, 6]);
    });
  }

  t.test('found by peek when the file changes after open', async (t) => {
    const dir = tmpDir(t);
    const q = open(t, dir);
    for (let i = 1; i <= 3; i++) q.append(body(i));
    const fd = fs.openSync(path.join(dir, segName(1)), 'r+');
    fs.writeSync(fd, Buffer.from('X'), 0, 1, 140 + H + 20); // record 2's payload
    fs.closeSync(fd);
    t.strictSame(seqs(q), [1, 3]);
    t.match(q.stats(), { tornRecords: 1, records: 2 });
  });
});

t.test('a writer SIGKILLed while appending: after reopen, everything it was told is written, in order, none damaged', async (t) => {
  const dir = tmpDir(t);
  const tsImport = process.execArgv.filter((a) => a.includes('typescript'));
  const printed = new Map<number, number>(); // seq → key, every "appended" line of every round
  let ackedPrinted = 0;
  let torn = 0;
  const rounds = 3;
  for (let round = 1; round <= rounds; round++) {
    const child = spawn(process.execPath, [...tsImport, path.join(ROOT, 'test', 'fixtures', 'disk-queue-writer.ts'), dir, String(round * 1_000_000)], {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let appendedThisRound = 0;
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const lines = stdout.split('\n');
        stdout = lines.pop()!; // a line cut by the kill is not a promise
        for (const line of lines) {
          const [word, seq, key] = line.split(' ');
          if (word === 'appended') {
            printed.set(Number(seq), Number(key));
            if (++appendedThisRound === 150) setTimeout(resolve, Math.random() * 30); // the kill lands anywhere in the loop
          } else if (word === 'acked') ackedPrinted = Math.max(ackedPrinted, Number(seq));
        }
      });
      child.on('exit', (code) => reject(new Error(`writer exited (${code}) before it was killed: ${stderr}`)));
    });
    child.kill('SIGKILL');
    t.equal(await exited, 'SIGKILL', `round ${round}: killed`);

    const q = DiskQueue.open(dir, { segmentBytes: 1024 * 1024 });
    const stats = q.stats();
    torn += stats.tornRecords;
    t.ok(stats.tornRecords <= 1, `round ${round}: at most the record being written is torn (${stats.tornRecords})`);
    const records = q.peek(1e9);
    q.close();
    const first = records[0]?.seq ?? Infinity;
    t.ok(first - 1 >= ackedPrinted, `round ${round}: resumes after the last ack that returned (${ackedPrinted})`);
    let inOrder = true;
    let intact = true;
    let unprinted = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (i > 0 && r.seq <= records[i - 1].seq) inOrder = false;
      const key = r.data.readUInt32LE(0);
      if (!r.data.equals(recordBody(key))) intact = false;
      if (!printed.has(r.seq)) unprinted++;
      else if (printed.get(r.seq) !== key) intact = false;
    }
    const missing = [...printed.keys()].filter((seq) => seq >= first && !records.some((r) => r.seq === seq));
    t.ok(inOrder, `round ${round}: ${records.length} records in seq order`);
    t.ok(intact, `round ${round}: every payload byte for byte`);
    t.strictSame(missing, [], `round ${round}: every append that returned is there`);
    t.ok(unprinted <= 1, `round ${round}: beyond those, at most the one appended as it was killed (${unprinted})`);
    t.ok(records.length >= 20 && records.length < printed.size, `round ${round}: acks unlinked segments (${records.length} left of ${printed.size})`);
  }
  t.comment(`${rounds} kills, ${torn} torn records found`);
});

t.test('a record larger than a segment gets one to itself; one larger than the bound is still written', async (t) => {
  const dir = tmpDir(t);
  const q = open(t, dir, { segmentBytes: 1000, maxBytes: 100_000 });
  q.append(body(1));
  q.append(body(2, 5000));
  q.append(body(3));
  q.append(body(4));
  t.strictSame(segmentFiles(dir), [segName(1), segName(2), segName(3)]);
  t.equal(fs.statSync(path.join(dir, segName(2))).size, H + 5000);
  t.strictSame(seqs(q), [1, 2, 3, 4]);
  t.ok(q.peek(2)[1].data.equals(body(2, 5000)));
  q.close();
  const again = open(t, dir, { segmentBytes: 1000, maxBytes: 100_000 });
  t.strictSame(seqs(again), [1, 2, 3, 4]);
  again.close();

  const small = open(t, dir, { segmentBytes: 1000, maxBytes: 2000 });
  small.append(body(5, 3000));
  t.match(small.stats(), { records: 1, segments: 1, bytes: H + 3000, droppedSegments: 3, droppedRecords: 4 });
  small.append(body(6));
  t.match(small.stats(), { records: 1, segments: 1, bytes: 140, droppedSegments: 4, droppedRecords: 5 });
  t.strictSame(seqs(small), [6]);
});

t.test('stats: bytes on disk, oldestAppendedAt from the clock, across a reopen', async (t) => {
  const dir = tmpDir(t);
  let clock = 1_800_000_000_000;
  const options = { now: () => clock, segmentBytes: 420 };
  let q = DiskQueue.open(dir, options);
  t.strictSame(q.stats(), { records: 0, bytes: 0, segments: 0, appended: 0, acked: 0, droppedRecords: 0, droppedSegments: 0, droppedWeight: 0, tornRecords: 0 });
  for (let i = 1; i <= 4; i++) {
    t.equal(q.append(body(i)).appendedAt, clock);
    clock += 1000;
  }
  t.strictSame(q.stats(), { records: 4, bytes: 4 * 140, segments: 2, oldestAppendedAt: 1_800_000_000_000, appended: 4, acked: 0, droppedRecords: 0, droppedSegments: 0, droppedWeight: 0, tornRecords: 0 });
  q.ack(1);
  t.match(q.stats(), { records: 3, bytes: 4 * 140, oldestAppendedAt: 1_800_000_001_000, acked: 1 });
  t.equal(q.peek(1)[0].appendedAt, 1_800_000_001_000);
  q.close();
  q = open(t, dir, options);
  t.strictSame(q.stats(), { records: 3, bytes: 4 * 140, segments: 2, oldestAppendedAt: 1_800_000_001_000, appended: 0, acked: 0, droppedRecords: 0, droppedSegments: 0, droppedWeight: 0, tornRecords: 0 });
});

t.test('close: idempotent, syncs, frees the directory; use after close is an error', async (t) => {
  const dir = tmpDir(t);
  for (const fsync of ['always', 'interval', 'never'] as const) {
    const q = DiskQueue.open(dir, { fsync, syncIntervalMs: 10 });
    const r = q.append(body(1));
    q.append(body(2)); // inside the interval: a timer syncs it
    q.ack(r.seq); // and the one left from the round before
    t.throws(() => DiskQueue.open(dir), { code: 'HT_ERR_DATA_DIR', message: /already open in this process/ });
    q.close();
    q.close();
    t.throws(() => q.append(body(1)), /append\(\) after close\(\)/);
    t.throws(() => q.peek(1), /peek\(\) after close\(\)/);
    t.throws(() => q.ack(1), /ack\(\) after close\(\)/);
    t.match(q.stats(), { appended: 2, acked: fsync === 'always' ? 1 : 2 }, `${fsync}: stats after close`);
  }
  const q = open(t, dir);
  t.strictSame(seqs(q), [6], 'the last append, not acked');
});

t.test("'interval': a segment is closed when the next starts, synced or not (the sync opens it by name)", async (t) => {
  const dir = fs.realpathSync(tmpDir(t)); // as /proc/self/fd's links name it
  /** This process's descriptors open on files of the queue. */
  const openInQueue = () =>
    fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`);
      } catch {
        return false; // closed since the listing
      }
    }).length;
  // One record a segment; one sync (the first append's, off the thread), the next a minute away.
  const q = open(t, dir, { segmentBytes: 140, syncIntervalMs: 60_000 });
  for (let i = 1; i <= 60; i++) q.append(body(i));
  const held = openInQueue();
  t.ok(held >= 1 && held <= 2, `a burst of 60 segments, none synced since the first: ${held} open (the active one, and the first sync's while it runs)`);
  t.equal(q.stats().records, 60);
  q.close();
  const deadline = Date.now() + 5000;
  while (openInQueue() !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(openInQueue(), 0, 'close syncs and closes everything');
});

t.test('an unusable directory: HT_ERR_DATA_DIR naming it; bad options: HT_ERR_OPTION', async (t) => {
  const base = tmpDir(t);
  const file = path.join(base, 'a-file');
  fs.writeFileSync(file, 'x');
  const check = (dir: string, message: RegExp) => {
    try {
      DiskQueue.open(dir);
      t.fail(`${dir} opened`);
    } catch (e) {
      t.type(e, TracerError);
      t.equal((e as TracerError).code, 'HT_ERR_DATA_DIR');
      t.match((e as TracerError).message, message);
    }
  };
  check(file, new RegExp(`^${file}: is a file, not a directory`));
  check(path.join(file, 'queue'), new RegExp(`^${file}/queue: a part of the path is a file`));
  const ackDir = path.join(base, 'ack-is-a-directory');
  fs.mkdirSync(path.join(ackDir, 'acked'), { recursive: true });
  check(ackDir, new RegExp(`^${ackDir}: cannot read acked \\(EISDIR`));

  const created = path.join(base, 'new', 'remote-write');
  open(t, created).close();
  t.equal(fs.statSync(created).mode & 0o777, 0o700, 'created 0700');

  t.throws(() => DiskQueue.open(created, { maxBytes: 0 }), { code: 'HT_ERR_OPTION', message: /maxBytes must be a positive number/ });
  t.throws(() => DiskQueue.open(created, { segmentBytes: NaN }), { code: 'HT_ERR_OPTION' });
  t.throws(() => DiskQueue.open(created, { fsync: 'sometimes' as 'never' }), { code: 'HT_ERR_OPTION', message: /fsync must be/ });
});

t.test('throughput: 64 KiB records, fsync interval', async (t) => {
  const q = open(t, tmpDir(t));
  const payload = Buffer.alloc(64 * 1024, 7);
  const n = 1000;
  let start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) q.append(payload);
  const appendS = Number(process.hrtime.bigint() - start) / 1e9;
  start = process.hrtime.bigint();
  for (;;) {
    const batch = q.peek(16);
    if (batch.length === 0) break;
    q.ack(batch[batch.length - 1].seq);
  }
  const drainS = Number(process.hrtime.bigint() - start) / 1e9;
  const mb = (n * payload.length) / 1e6;
  t.comment(`append ${(n / appendS).toFixed(0)} records/s, ${(mb / appendS).toFixed(0)} MB/s; peek+ack ${(n / drainS).toFixed(0)} records/s, ${(mb / drainS).toFixed(0)} MB/s (bench/disk-queue.ts for more)`);
  t.equal(q.stats().records, 0);
});
