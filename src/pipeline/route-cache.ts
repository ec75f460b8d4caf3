/**
 * Request head bytes → route, read in place. Each path segment is classified
 * from its bytes (number, UUID, hex id, long token: what RouteTemplater calls
 * an identifier), and the path's shape (literal segments, identifiers as
 * {id}) is hashed as it goes. A known shape returns its route without
 * building any string, so /users/1 … /users/999999 cost one lookup each;
 * only a new shape is decoded and handed to the templater (user patterns
 * included). Bounded: when full, the cache starts over.
 *
 * A shape stands for its route only if no user pattern has an identifier as
 * a literal segment (it could tell two paths of one shape apart); with such a
 * pattern every path is decoded.
 */
import { isIdentifier, RouteTemplater } from '../analytics/route';

const SP = 0x20;
const QUESTION = 0x3f;
const HASH = 0x23;
const CR = 0x0d;
const LF = 0x0a;
const SLASH = 0x2f;
const ID_MARK = 0x100; // hashed for an identifier segment: no byte has this value

/** Byte classes, one bit each, so a segment's bytes are classified with one AND and one OR per byte. */
const DIGIT = 1; // 0-9
const HEX = 2; // 0-9 a-f A-F
const LETTER = 4; // a-z A-Z
const WORD = 8; // 0-9 a-z A-Z _ -
const HEX_OR_DASH = 16; // what a UUID is made of
const ALL_CLASSES = DIGIT | HEX | LETTER | WORD | HEX_OR_DASH;
const SEPARATOR = 32; // "/"
const STOP = 64; // the end of the path: space, "?", "#", CR, LF
const CLASSES = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const lower = c | 0x20;
  const digit = c >= 0x30 && c <= 0x39;
  const letter = lower >= 0x61 && lower <= 0x7a;
  const hex = digit || (lower >= 0x61 && lower <= 0x66);
  CLASSES[c] =
    (digit ? DIGIT : 0) |
    (hex ? HEX : 0) |
    (letter ? LETTER : 0) |
    (digit || letter || c === 0x5f || c === 0x2d ? WORD : 0) |
    (hex || c === 0x2d ? HEX_OR_DASH : 0) |
    (c === SLASH ? SEPARATOR : 0) |
    (c === SP || c === QUESTION || c === HASH || c === CR || c === LF ? STOP : 0);
}

interface Entry {
  /** The shape as segments: literal text, or null for an identifier. */
  segments: (string | null)[];
  route: string;
  next: Entry | undefined;
}

const MAX_SEGMENTS = 64;

export class RouteCache {
  private readonly templater: RouteTemplater;
  private readonly maxEntries: number;
  private readonly byShape: boolean;
  private readonly entries = new Map<number, Entry>();
  private size = 0;
  /** The last path's segments: where each ends, and whether it is an identifier. */
  private readonly ends = new Int32Array(MAX_SEGMENTS);
  private readonly ids = new Uint8Array(MAX_SEGMENTS);

  constructor(patterns: readonly string[], redactPatterns: readonly string[], maxEntries: number) {
    this.templater = new RouteTemplater([...patterns], redactPatterns);
    this.maxEntries = maxEntries;
    this.byShape = !patterns.some((p) => p.split('/').some((segment) => segment !== '' && isIdentifier(segment)));
  }

  /**
   * The route of the request head in bytes[start, end); `targetStart` is the
   * index where the target begins (after "METHOD "), or -1 when the method was
   * not recognised. "" when there is no request target to read.
   */
  route(bytes: Uint8Array, start: number, end: number, targetStart: number): string {
    let at = targetStart;
    if (at < 0) {
      at = start;
      while (at < end && bytes[at] !== SP && bytes[at] !== LF) at++;
      if (at >= end || bytes[at] !== SP) return '';
      at++;
    }
    if (at < end && bytes[at] !== SLASH) at = absoluteFormPath(bytes, at, end);
    const segments = this.scan(bytes, at, end);
    const pathEnd = this.pathEnd;
    if (pathEnd === at) return '';
    // Too many segments to keep, or patterns that need every path read on its own.
    if (segments < 0 || !this.byShape) return this.templater.route(latin1(bytes, at, pathEnd));
    const hash = this.hash;
    for (let e = this.entries.get(hash); e; e = e.next) {
      if (this.sameShape(e.segments, segments, bytes, at)) return e.route;
    }
    const path = latin1(bytes, at, pathEnd);
    const route = this.templater.route(path);
    if (this.size >= this.maxEntries) {
      this.entries.clear();
      this.size = 0;
    }
    const shape: (string | null)[] = [];
    let s = at;
    for (let k = 0; k < segments; k++) {
      shape.push(this.ids[k] ? null : latin1(bytes, s, this.ends[k]));
      s = this.ends[k];
    }
    this.entries.set(hash, { segments: shape, route, next: this.entries.get(hash) });
    this.size++;
    return route;
  }

  /** Results of the last scan: the shape's hash (also a hint for callers' own caches: stale when route() returned before scanning), and where the path ended. */
  hash = 0;
  private pathEnd = 0;

  /**
   * One pass over the path, which ends at a space, "?", "#", CR or LF: splits
   * it into segments (each starting with its "/", the first one with whatever
   * the path starts with), classifies each, and hashes the shape (FNV-1a; an
   * identifier hashes as one mark). Returns the number of segments, or -1 past
   * MAX_SEGMENTS (pathEnd is then still found).
   */
  private scan(bytes: Uint8Array, start: number, end: number): number {
    let hash = 0x811c9dc5;
    let n = 0;
    let s = start;
    while (s < end) {
      const opener = bytes[s];
      if (CLASSES[opener] & STOP) break;
      if (n === MAX_SEGMENTS) {
        while (s < end && !(CLASSES[bytes[s]] & STOP)) s++;
        this.pathEnd = s;
        return -1;
      }
      hash = Math.imul(hash ^ opener, 0x01000193);
      let literal = hash;
      let all = ALL_CLASSES; // the classes every byte of the segment has
      let any = 0; // the classes some byte has
      let e = s + 1;
      for (; e < end; e++) {
        const c = bytes[e];
        const f = CLASSES[c];
        if (f & (STOP | SEPARATOR)) break;
        literal = Math.imul(literal ^ c, 0x01000193);
        all &= f;
        any |= f;
      }
      const len = e - s - 1;
      const hasDigit = (any & DIGIT) !== 0;
      const id =
        len > 0 &&
        ((all & DIGIT) !== 0 ||
          (len >= 8 && (all & HEX) !== 0 && hasDigit) ||
          (len === 36 && (all & HEX_OR_DASH) !== 0 && isUuid(bytes, s + 1)) ||
          (len >= 20 && (all & WORD) !== 0 && hasDigit && (any & LETTER) !== 0));
      hash = id ? Math.imul(hash ^ ID_MARK, 0x01000193) : literal;
      this.ends[n] = e;
      this.ids[n] = id ? 1 : 0;
      n++;
      s = e;
    }
    this.hash = hash & 0x3fffffff; // a small integer: no boxed number per lookup
    this.pathEnd = s;
    return n;
  }

  /** Whether the scanned path has this shape: literal segments equal, identifiers where the shape has them. */
  private sameShape(shape: (string | null)[], segments: number, bytes: Uint8Array, start: number): boolean {
    if (shape.length !== segments) return false;
    let s = start;
    for (let k = 0; k < segments; k++) {
      const literal = shape[k];
      const e = this.ends[k];
      if (literal === null) {
        if (this.ids[k] !== 1 || bytes[s] !== SLASH) return false;
      } else {
        if (this.ids[k] !== 0 || literal.length !== e - s) return false;
        for (let i = 0; i < literal.length; i++) if (literal.charCodeAt(i) !== bytes[s + i]) return false;
      }
      s = e;
    }
    return true;
  }
}

const latin1 = (bytes: Uint8Array, start: number, end: number): string => Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');

function isUuid(bytes: Uint8Array, start: number): boolean {
  for (let i = 0; i < 36; i++) {
    const c = bytes[start + i];
    const lower = c | 0x20;
    const hex = (c >= 0x30 && c <= 0x39) || (lower >= 0x61 && lower <= 0x66);
    if (i === 8 || i === 13 || i === 18 || i === 23 ? c !== 0x2d : !hex) return false;
  }
  return true;
}

/** Where the path starts in an absolute-form target (http://host/path), or `start` when it is not one. */
function absoluteFormPath(bytes: Uint8Array, start: number, end: number): number {
  for (let i = start; i + 2 < end && bytes[i] !== SP; i++) {
    if (bytes[i] === 0x3a && bytes[i + 1] === SLASH && bytes[i + 2] === SLASH) {
      let p = i + 3;
      while (p < end && bytes[p] !== SLASH && bytes[p] !== SP) p++;
      return p;
    }
  }
  return start;
}
