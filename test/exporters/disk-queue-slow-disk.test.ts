/**
 * The disk queue on a disk whose flushes take seconds (slow-fsync-fs, a real
 * FUSE file system): under 'interval' appends and the event loop go on while
 * the flush runs on the thread pool, every segment is still flushed, once,
 * and close() waits for what is in flight. 'always' is the contrast: there
 * the flush is on the calling thread by design, which shows the disk is slow.
 *
 * Directory flushes are not slowed: FUSE holds a directory's lock while it
 * is flushed, so a new segment's create would wait for it, which ext4 does
 * not do (see test/helpers/slow-disk.ts). One record per segment, for the
 * same reason: a write to the file being flushed waits under FUSE.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DiskQueue, RECORD_HEADER_BYTES } from '../../src/exporters/disk-queue';
import { sleep } from '../helpers/kernel';
import { mountSlowDisk, slowDiskSkipReason } from '../helpers/slow-disk';

/** A file's flush; long, so that a loaded machine's scheduling cannot blur what happens during it. */
const FLUSH_MS = 3000;
const PAYLOAD = Buffer.alloc(100, 7);
/** One record a segment. */
const SEGMENT_BYTES = RECORD_HEADER_BYTES + PAYLOAD.length;

const skip = slowDiskSkipReason();

function segName(seq: number): string {
  return `${String(seq).padStart(20, '0')}.seg`;
}

/** Runs fn and returns how long it held the thread, ms. */
function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

t.test("'interval' on a disk that takes 3 s to flush: appends and the event loop go on; every segment flushed once", { skip }, async (t) => {
  const disk = await mountSlowDisk(t, FLUSH_MS, 0);
  const dir = path.join(disk.dir, 'queue');
  const q = DiskQueue.open(dir, { segmentBytes: SEGMENT_BYTES, syncIntervalMs: 100 });
  t.teardown(() => q.close());

  // The event loop's longest gap, seen by a 20 ms ticker.
  let lastTick = performance.now();
  let longestGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - lastTick);
    lastTick = now;
  }, 20);
  const appendMs: number[] = [];
  const appendedAt: number[] = [];
  for (let i = 0; i < 2; i++) {
    appendMs.push(timed(() => q.append(PAYLOAD)));
    appendedAt.push(Date.now());
    await sleep(300);
  }
  clearInterval(ticker);
  // On the calling thread, each would take the flush's 3 s.
  t.ok(Math.max(...appendMs) < FLUSH_MS / 2, `no append waited for the flush (the longest took ${Math.max(...appendMs).toFixed(1)} ms)`);
  t.ok(longestGap < FLUSH_MS / 2, `the event loop never waited for it (longest gap ${longestGap.toFixed(0)} ms)`);

  const segments = [1, 2].map((seq) => `/queue/${segName(seq)}`);
  const flushed = (): string[] => disk.syncs().filter((s) => s.op === 'fdatasync').map((s) => s.path);
  const deadline = Date.now() + 4 * FLUSH_MS;
  while (!segments.every((s) => flushed().includes(s)) && Date.now() < deadline) await sleep(50);
  t.strictSame(flushed().sort(), segments, 'each segment flushed once, on the thread pool');
  const first = disk.syncs().find((s) => s.path === segments[0])!;
  t.ok(appendedAt[1] < first.endMs, `segment 2 was appended (${appendedAt[1]}) while segment 1 was being flushed (${first.startMs}–${first.endMs})`);
  t.ok(disk.syncs().some((s) => s.op === 'fsyncdir' && s.path === '/queue'), 'the directory flushed (the segments created in it)');
  q.close();
  t.strictSame(
    DiskQueue.open(dir)
      .peek(10)
      .map((r) => r.seq),
    [1, 2],
  );
});

t.test("close() flushes on the calling thread what an 'interval' flush has not finished", { skip }, async (t) => {
  const disk = await mountSlowDisk(t, FLUSH_MS, 0);
  const q = DiskQueue.open(path.join(disk.dir, 'queue'), { syncIntervalMs: 100 });
  q.append(PAYLOAD); // its flush starts now, off the thread
  const closeMs = timed(() => q.close());
  const closedAt = Date.now();
  t.ok(closeMs >= FLUSH_MS, `close() waited for a flush (${closeMs.toFixed(0)} ms)`);
  const own = disk.syncs().filter((s) => s.op === 'fdatasync' && s.path === `/queue/${segName(1)}` && s.endMs <= closedAt);
  t.ok(own.length >= 1, 'the segment was flushed before close() returned');
});

t.test("'always' flushes every append on the calling thread: each append takes the disk's flush", { skip }, async (t) => {
  const disk = await mountSlowDisk(t, FLUSH_MS, 0);
  const q = DiskQueue.open(path.join(disk.dir, 'queue'), { fsync: 'always' });
  t.teardown(() => q.close());
  const ms = timed(() => q.append(PAYLOAD));
  t.ok(ms >= FLUSH_MS, `the append took ${ms.toFixed(0)} ms`);
  t.strictSame(
    disk.syncs().map((s) => `${s.op} ${s.path}`),
    [`fdatasync /queue/${segName(1)}`, 'fsyncdir /queue'],
    'the segment, then the directory that holds it',
  );
  t.ok(fs.existsSync(path.join(disk.dir, 'queue', segName(1))));
});
