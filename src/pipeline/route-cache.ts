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

  constructor(patterns: readonly string[], maxEntries: number) {
    this.templater = new RouteTemplater([...patterns]);
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
    let pathEnd = at;
    while (pathEnd < end) {
      const c = bytes[pathEnd];
      if (c === SP || c === QUESTION || c === HASH || c === CR || c === LF) break;
      pathEnd++;
    }
    if (pathEnd === at) return '';
    if (!this.byShape) return this.templater.route(latin1(bytes, at, pathEnd));

    const segments = this.scan(bytes, at, pathEnd);
    if (segments < 0) return this.templater.route(latin1(bytes, at, pathEnd)); // too many segments to keep
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

  private hash = 0;

  /**
   * One pass over the path: splits it into segments (each starting with its
   * "/", the first one with whatever the path starts with), classifies each,
   * and hashes the shape (FNV-1a; an identifier hashes as one mark). Returns
   * the number of segments, or -1 past MAX_SEGMENTS.
   */
  private scan(bytes: Uint8Array, start: number, end: number): number {
    let hash = 0x811c9dc5;
    let n = 0;
    for (let s = start; s < end; ) {
      if (n === MAX_SEGMENTS) return -1;
      hash = Math.imul(hash ^ bytes[s], 0x01000193);
      let literal = hash;
      let digits = 0;
      let letters = 0;
      let hex = 0;
      let word = 0; // [A-Za-z0-9_-]
      let e = s + 1;
      for (; e < end; e++) {
        const c = bytes[e];
        if (c === SLASH) break;
        literal = Math.imul(literal ^ c, 0x01000193);
        const lower = c | 0x20;
        if (c >= 0x30 && c <= 0x39) {
          digits++;
          hex++;
          word++;
        } else if (lower >= 0x61 && lower <= 0x7a) {
          letters++;
          word++;
          if (lower <= 0x66) hex++;
        } else if (c === 0x5f || c === 0x2d) word++;
      }
      const len = e - s - 1;
      const id = len > 0 && (digits === len || (len >= 8 && hex === len && digits > 0) || (len === 36 && isUuid(bytes, s + 1)) || (len >= 20 && word === len && digits > 0 && letters > 0));
      hash = id ? Math.imul(hash ^ ID_MARK, 0x01000193) : literal;
      this.ends[n] = e;
      this.ids[n] = id ? 1 : 0;
      n++;
      s = e;
    }
    this.hash = hash & 0x3fffffff; // a small integer: no boxed number per lookup
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
