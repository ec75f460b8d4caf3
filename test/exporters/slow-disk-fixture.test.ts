/**
 * The slow disk that the exporters' stall tests stand on
 * (test/helpers/slow-disk.ts, test/fixtures/slow-fsync-fs.c): its flushes
 * take the delay and are logged one line each, other files stay usable while
 * a flush sleeps, the ordinary file operations pass through, and unmount
 * leaves no mount behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { mountSlowDisk, slowDiskSkipReason } from '../helpers/slow-disk';

/** Long enough that a loaded machine's scheduling cannot blur the flush and what happens during it. */
const DELAY_MS = 2000;

function mountPoints(): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((line) => line.split(' ')[4]);
}

t.test('a FUSE disk whose flushes take 2 s', { skip: slowDiskSkipReason() }, async (t) => {
  const disk = await mountSlowDisk(t, DELAY_MS);
  const at = (name: string): string => path.join(disk.dir, name);
  const opsSoFar = () => disk.syncs().map(({ op, path }) => `${op} ${path}`);

  await t.test('fdatasync takes the delay and is logged once', async (t) => {
    fs.writeFileSync(at('synced'), 'queued bytes');
    const fd = fs.openSync(at('synced'), 'r+');
    t.teardown(() => fs.closeSync(fd));
    const before = Date.now();
    fs.fdatasyncSync(fd);
    const after = Date.now();
    t.ok(after - before >= DELAY_MS, `fdatasync took ${after - before} ms`);
    const syncs = disk.syncs();
    t.same(syncs.map(({ op, path }) => ({ op, path })), [{ op: 'fdatasync', path: '/synced' }]);
    t.ok(syncs[0].endMs - syncs[0].startMs >= DELAY_MS, 'the daemon slept the delay');
    t.ok(before <= syncs[0].startMs && syncs[0].endMs <= after, 'within the call');

    fs.fsyncSync(fd);
    t.same(opsSoFar(), ['fdatasync /synced', 'fsync /synced'], 'fsync is logged as fsync');
  });

  await t.test('another file is written and read back while a flush sleeps', async (t) => {
    fs.writeFileSync(at('stalled'), 'a segment');
    const fd = fs.openSync(at('stalled'), 'r+');
    t.teardown(() => fs.closeSync(fd));
    let flushed = false;
    const flush = new Promise<void>((resolve, reject) =>
      fs.fdatasync(fd, (err) => {
        flushed = true;
        if (err) reject(err);
        else resolve();
      }),
    );
    // Long enough for the request to reach the daemon, far short of the delay.
    await new Promise((r) => setTimeout(r, 300));

    const before = Date.now();
    fs.writeFileSync(at('other'), 'still writable');
    const readBack = fs.readFileSync(at('other'), 'utf8');
    const after = Date.now();
    t.equal(readBack, 'still writable');
    t.ok(after - before < DELAY_MS / 2, `write and read took ${after - before} ms (they would wait for the flush on a one-thread daemon)`);
    t.equal(flushed, false, 'the flush was still sleeping');

    await flush;
    const last = disk.syncs().at(-1)!;
    t.same({ op: last.op, path: last.path }, { op: 'fdatasync', path: '/stalled' });
    t.ok(last.startMs <= before && after <= last.endMs, 'the write and read happened inside the flush');
  });

  await t.test('mkdir, create, rename, readdir, unlink, rmdir pass through', async (t) => {
    fs.mkdirSync(at('segments'));
    fs.writeFileSync(at('segments/000001.tmp'), 'record');
    t.throws(() => fs.openSync(at('segments/000001.tmp'), 'wx'), { code: 'EEXIST' }, 'O_EXCL reaches the backing open');
    fs.renameSync(at('segments/000001.tmp'), at('segments/000001'));
    t.same(fs.readdirSync(at('segments')), ['000001']);
    t.equal(fs.readFileSync(at('segments/000001'), 'utf8'), 'record');
    t.same(fs.readdirSync(disk.dir).sort(), ['other', 'segments', 'stalled', 'synced']);
    fs.unlinkSync(at('segments/000001'));
    t.same(fs.readdirSync(at('segments')), []);
    fs.rmdirSync(at('segments'));
    t.same(fs.readdirSync(disk.dir).sort(), ['other', 'stalled', 'synced']);
  });

  await t.test('fsync of a directory is logged as fsyncdir', async (t) => {
    fs.mkdirSync(at('queue'));
    const fd = fs.openSync(at('queue'), 'r');
    t.teardown(() => fs.closeSync(fd));
    const before = Date.now();
    fs.fsyncSync(fd);
    t.ok(Date.now() - before >= DELAY_MS, 'it takes the delay too');
    t.same(opsSoFar(), ['fdatasync /synced', 'fsync /synced', 'fdatasync /stalled', 'fsyncdir /queue']);
  });

  await disk.unmount();
  t.notOk(mountPoints().includes(disk.dir), 'no longer mounted');
  t.notOk(fs.existsSync(disk.dir), 'the mount point is removed');
  await disk.unmount();
  t.pass('unmounting again is a no-op');
});
