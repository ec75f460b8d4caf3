/**
 * Executable file mappings of processes, from /proc/<pid>/maps: where the
 * TLS library (or an executable that bundles it) is loaded.
 */
import fs from 'node:fs';
import path from 'node:path';

/** One file mapped executable by a process, named so the agent can open it (also inside a container). */
export interface MappedObject {
  /** `major:minor:inode` as the maps file shows it: one per file on the host. */
  key: string;
  /** The path inside the process's mount namespace. */
  path: string;
  /** The same file as the agent opens it: through /proc/<pid>/root. */
  openPath: string;
}

// 7f1c2a000000-7f1c2a05d000 r-xp 0001f000 fe:01 1835023   /usr/lib/x86_64-linux-gnu/libssl.so.3
const LINE = /^[0-9a-f]+-[0-9a-f]+ ..x. [0-9a-f]+ ([0-9a-f]+:[0-9a-f]+) (\d+) +(\/.*)$/;

/** The distinct executable file mappings in a maps file's text; deleted files are left out (no path opens them). */
export function parseExecutableMappings(pid: number, text: string): MappedObject[] {
  const out = new Map<string, MappedObject>();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m || m[2] === '0' || m[3].endsWith(' (deleted)')) continue;
    const key = `${m[1]}:${m[2]}`;
    if (!out.has(key)) out.set(key, { key, path: m[3], openPath: `/proc/${pid}/root${m[3]}` });
  }
  return [...out.values()];
}

/** A process's executable file mappings; none when it is gone or not readable. */
export function executableMappings(pid: number): MappedObject[] {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/maps`, 'latin1');
  } catch {
    return [];
  }
  return parseExecutableMappings(pid, text);
}

/** Every process id under /proc. */
export function processIds(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** A library named libssl.so or libssl.so.N: OpenSSL's (NSS's libssl3.so is another library). */
export function isLibssl(file: string): boolean {
  return /^libssl\.so(\.|$)/.test(path.basename(file));
}
