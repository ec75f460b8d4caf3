/**
 * A directory the agent keeps state in (the database, the forwarding
 * queues): created when missing (mode 0700), then checked writable, with
 * what is wrong and what to do in every refusal.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TracerError } from '../errors';

/** Creates dataDir (and its parents) when missing and checks the agent may write there; throws what `problem` makes of the reason. */
export function prepareDataDirectory(dataDir: string, problem: (what: string, cause?: unknown) => TracerError): void {
  try {
    makeDirectory(path.resolve(dataDir));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw problem('is a file, not a directory; point it at a directory (it is created when missing)', e);
    if (code === 'ENOTDIR') throw problem('a part of the path is a file, not a directory; point it at a directory (it is created when missing)', e);
    if (code === 'EACCES' || code === 'EPERM') throw problem('cannot be created (permission denied); create it for the user the agent runs as, or choose another directory', e);
    if (code === 'EROFS') throw problem('cannot be created: the file system is read-only; choose a directory on a writable volume', e);
    throw problem(`cannot be created (${errorText(e)})`, e);
  }
  // As root, permission bits do not stop a write; access() still reports a read-only file system.
  try {
    fs.accessSync(dataDir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EROFS') throw problem('is on a read-only file system; choose a directory on a writable volume', e);
    throw problem('is not writable by the agent; give the user the agent runs as write access, or choose another directory', e);
  }
}

/**
 * mkdir -p, mode 0700 for what it creates. Not fs.mkdirSync({recursive}):
 * that loops forever when mkdir answers ENOENT under an existing parent
 * (a path under /proc, Node 20), and the agent would hang at start.
 */
function makeDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (fs.statSync(dir).isDirectory()) return;
      throw e;
    }
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw e;
  }
  makeDirectory(path.dirname(dir));
  fs.mkdirSync(dir, { mode: 0o700 }); // ENOENT again (a /proc path): thrown, not retried
}

/** An error's code and message, once each. */
export function errorText(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return err.code && !String(err.message).includes(err.code) ? `${err.code}: ${err.message}` : String(err.message ?? e);
}
