/**
 * The file offsets of exported functions in an ELF object (a shared library
 * or an executable), read from its dynamic symbol table: what a uprobe is
 * attached at. 64-bit little-endian objects only (x86_64, arm64).
 */
import fs from 'node:fs';

const ELF_MAGIC = 0x464c457f; // "\x7fELF", little-endian
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const PT_LOAD = 1;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const SHN_UNDEF = 0;
const SYM_SIZE = 24;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = fs.readSync(fd, buf, 0, length, position);
  if (n !== length) throw new Error(`short read: ${n} of ${length} bytes at ${position}`);
  return buf;
}

interface Segment {
  vaddr: bigint;
  offset: bigint;
  filesz: bigint;
}

/**
 * Of the names wanted, those the object defines as functions, with their file
 * offsets. Throws naming the file when it is not a 64-bit little-endian ELF
 * object or is truncated.
 */
export function exportedFunctionOffsets(file: string, wanted: readonly string[]): Map<string, number> {
  const fd = fs.openSync(file, 'r');
  try {
    return readOffsets(fd, new Set(wanted));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    fs.closeSync(fd);
  }
}

function readOffsets(fd: number, wanted: Set<string>): Map<string, number> {
  const h = readAt(fd, 0, 64);
  if (h.readUInt32LE(0) !== ELF_MAGIC || h[4] !== ELFCLASS64 || h[5] !== ELFDATA2LSB) throw new Error('not a 64-bit little-endian ELF object');
  const phoff = Number(h.readBigUInt64LE(0x20));
  const shoff = Number(h.readBigUInt64LE(0x28));
  const phnum = h.readUInt16LE(0x38);
  const shnum = h.readUInt16LE(0x3c);

  const segments: Segment[] = [];
  const ph = readAt(fd, phoff, phnum * PHDR_SIZE);
  for (let i = 0; i < phnum; i++) {
    const at = i * PHDR_SIZE;
    if (ph.readUInt32LE(at) !== PT_LOAD) continue;
    segments.push({ offset: ph.readBigUInt64LE(at + 8), vaddr: ph.readBigUInt64LE(at + 16), filesz: ph.readBigUInt64LE(at + 32) });
  }

  const found = new Map<string, number>();
  if (shoff === 0 || shnum === 0) return found;
  const sh = readAt(fd, shoff, shnum * SHDR_SIZE);
  const section = (i: number) => ({
    type: sh.readUInt32LE(i * SHDR_SIZE + 4),
    offset: Number(sh.readBigUInt64LE(i * SHDR_SIZE + 24)),
    size: Number(sh.readBigUInt64LE(i * SHDR_SIZE + 32)),
    link: sh.readUInt32LE(i * SHDR_SIZE + 40),
  });
  for (let i = 0; i < shnum; i++) {
    const dynsym = section(i);
    if (dynsym.type !== SHT_DYNSYM) continue;
    if (dynsym.link >= shnum) throw new Error(`.dynsym links to section ${dynsym.link} of ${shnum}`);
    const strtab = section(dynsym.link);
    const names = readAt(fd, strtab.offset, strtab.size);
    const syms = readAt(fd, dynsym.offset, dynsym.size);
    for (let at = 0; at + SYM_SIZE <= syms.length; at += SYM_SIZE) {
      if ((syms[at + 4] & 0xf) !== STT_FUNC || syms.readUInt16LE(at + 6) === SHN_UNDEF) continue;
      const nameAt = syms.readUInt32LE(at);
      const end = names.indexOf(0, nameAt);
      const name = names.toString('latin1', nameAt, end < 0 ? names.length : end);
      if (!wanted.has(name)) continue;
      const offset = fileOffset(segments, syms.readBigUInt64LE(at + 8));
      if (offset !== undefined) found.set(name, offset);
    }
  }
  return found;
}

/** A virtual address's place in the file, through the loadable segment that holds it. */
function fileOffset(segments: Segment[], vaddr: bigint): number | undefined {
  const s = segments.find((seg) => vaddr >= seg.vaddr && vaddr < seg.vaddr + seg.filesz);
  return s ? Number(vaddr - s.vaddr + s.offset) : undefined;
}
