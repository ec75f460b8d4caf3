/**
 * Request head bytes → route, without building a string for paths seen
 * before: the path's bytes are hashed (FNV-1a) and compared with the cached
 * bytes; only a new path is decoded and templated. Bounded: when full, the
 * cache starts over.
 */
import type { RouteTemplater } from '../analytics/route';

const SP = 0x20;
const QUESTION = 0x3f;
const HASH = 0x23;
const CR = 0x0d;
const LF = 0x0a;
const SLASH = 0x2f;

interface Entry {
  bytes: Uint8Array;
  route: string;
  next: Entry | undefined;
}

export class RouteCache {
  private readonly templater: RouteTemplater;
  private readonly maxEntries: number;
  private readonly entries = new Map<number, Entry>();
  private size = 0;

  constructor(templater: RouteTemplater, maxEntries: number) {
    this.templater = templater;
    this.maxEntries = maxEntries;
  }

  /**
   * The route of the request whose head is `head`; `targetStart` is where the
   * target begins (after "METHOD "), or -1 when the method was not recognised.
   * "" when there is no request line to read.
   */
  route(head: Uint8Array, targetStart: number): string {
    let start = targetStart;
    if (start < 0) {
      start = 0;
      while (start < head.length && head[start] !== SP && head[start] !== LF) start++;
      if (start >= head.length || head[start] !== SP) return '';
      start++;
    }
    if (start < head.length && head[start] !== SLASH) start = absoluteFormPath(head, start);
    let end = start;
    let hash = 0x811c9dc5;
    while (end < head.length) {
      const c = head[end];
      if (c === SP || c === QUESTION || c === HASH || c === CR || c === LF) break;
      hash = Math.imul(hash ^ c, 0x01000193);
      end++;
    }
    if (end === start) return '';
    for (let e = this.entries.get(hash); e; e = e.next) {
      if (sameBytes(e.bytes, head, start, end)) return e.route;
    }
    const path = Buffer.from(head.buffer, head.byteOffset + start, end - start).toString('latin1');
    const route = this.templater.route(path);
    if (this.size >= this.maxEntries) {
      this.entries.clear();
      this.size = 0;
    }
    this.entries.set(hash, { bytes: head.slice(start, end), route, next: this.entries.get(hash) });
    this.size++;
    return route;
  }
}

/** Where the path starts in an absolute-form target (http://host/path), or its end when it has none. */
function absoluteFormPath(head: Uint8Array, start: number): number {
  let i = start;
  while (i + 2 < head.length && head[i] !== SP) {
    if (head[i] === 0x3a && head[i + 1] === SLASH && head[i + 2] === SLASH) {
      i += 3;
      while (i < head.length && head[i] !== SLASH && head[i] !== SP) i++;
      return i;
    }
    i++;
  }
  return start;
}

function sameBytes(cached: Uint8Array, head: Uint8Array, start: number, end: number): boolean {
  if (cached.length !== end - start) return false;
  for (let i = 0; i < cached.length; i++) if (cached[i] !== head[start + i]) return false;
  return true;
}
