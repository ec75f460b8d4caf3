/**
 * Flushing a disk queue's writes to the disk: the segment files appended to
 * since the last flush (fdatasync), the ack file (fsync) and the directory
 * (fsync: the files created and renamed in it).
 *
 * Each file is opened by its path for the flush, never through a descriptor
 * the queue holds, because the queue may close or unlink it meanwhile; a file
 * gone by then (acked or dropped) has nothing left to keep.
 *
 * flushNow runs on the calling thread (fsync 'always', close). flushLater
 * runs on libuv's thread pool: on a busy node a flush can take seconds (it
 * waits for everything the journal commits with it), and on the event loop
 * that would stall capture, the API and the rollups with it.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface PendingFlush {
  /** Segment files with writes not flushed yet. */
  files: string[];
  /** The ack file, when it was replaced since the last flush. */
  ackFile?: string;
  /** The directory, when files were created or renamed in it. */
  dir?: string;
}

/** A flush that failed: `what` names the file ("00000000000000000001.seg", "acked", "the directory"). */
export class FlushFailure extends Error {
  readonly what: string;

  constructor(what: string, cause: unknown) {
    super(`cannot flush ${what}`, { cause });
    this.what = what;
  }
}

interface Step {
  file: string;
  what: string;
  /** fdatasync: the data and the size; fsync: every attribute too (the ack file, the directory). */
  dataOnly: boolean;
  /** A file the queue may unlink (acked, dropped) before its flush: gone, it has nothing left to keep. */
  mayVanish: boolean;
}

function steps(p: PendingFlush): Step[] {
  const out: Step[] = p.files.map((file) => ({ file, what: path.basename(file), dataOnly: true, mayVanish: true }));
  if (p.ackFile) out.push({ file: p.ackFile, what: path.basename(p.ackFile), dataOnly: false, mayVanish: true });
  if (p.dir) out.push({ file: p.dir, what: 'the directory', dataOnly: false, mayVanish: false });
  return out;
}

function gone(step: Step, e: unknown): boolean {
  return step.mayVanish && (e as NodeJS.ErrnoException).code === 'ENOENT';
}

export function isEmpty(p: PendingFlush): boolean {
  return p.files.length === 0 && !p.ackFile && !p.dir;
}

/** Both flushes' files, once each. */
export function mergeFlushes(a: PendingFlush, b: PendingFlush): PendingFlush {
  return { files: [...new Set([...a.files, ...b.files])], ackFile: a.ackFile ?? b.ackFile, dir: a.dir ?? b.dir };
}

/** Flushes on the calling thread; throws FlushFailure. */
export function flushNow(p: PendingFlush): void {
  for (const step of steps(p)) {
    let fd: number;
    try {
      fd = fs.openSync(step.file, 'r');
    } catch (e) {
      if (gone(step, e)) continue;
      throw new FlushFailure(step.what, e);
    }
    try {
      if (step.dataOnly) fs.fdatasyncSync(fd);
      else fs.fsyncSync(fd);
    } catch (e) {
      throw new FlushFailure(step.what, e);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Flushes on libuv's thread pool; rejects with FlushFailure. */
export async function flushLater(p: PendingFlush): Promise<void> {
  for (const step of steps(p)) {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(step.file, 'r');
    } catch (e) {
      if (gone(step, e)) continue;
      throw new FlushFailure(step.what, e);
    }
    try {
      if (step.dataOnly) await handle.datasync();
      else await handle.sync();
    } catch (e) {
      throw new FlushFailure(step.what, e);
    } finally {
      await handle.close();
    }
  }
}
