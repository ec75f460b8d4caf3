/**
 * Routes from request paths, so that /users/42 and /users/43 are one series:
 * user patterns first ("/orders/:id/items", "/files/*"), then segments that
 * are identifiers become {id}: numbers, UUIDs, hex ids, and long opaque
 * tokens. Query strings never reach a route; the user's redaction patterns
 * apply to what is left. The result is bounded in length.
 */
import { compileRedactPatterns, redactPath } from '../capture/redact';

export const ROUTE_MAX_LENGTH = 256;
const ID = '{id}';
/** Scheme and authority (userinfo included) of an absolute-form target: never part of a route. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i;

const NUMBER = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^(?=.*\d)[0-9a-f]{8,}$/i;
/** Long mixed tokens (base64url ids, hashes, session keys): letters and digits both. */
const TOKEN = /^(?=.*\d)(?=.*[a-z])[\w-]{20,}$/i;

export function isIdentifier(segment: string): boolean {
  return NUMBER.test(segment) || UUID.test(segment) || HEX.test(segment) || TOKEN.test(segment);
}

/** A user route pattern: literal segments, ":name" or "{name}" for one segment, "*" for the rest. */
export class RoutePattern {
  readonly pattern: string;
  private readonly segments: string[];

  constructor(pattern: string) {
    if (!pattern.startsWith('/')) throw new Error(`route pattern ${JSON.stringify(pattern)}: must start with "/"`);
    const segments = pattern.split('/').slice(1);
    const star = segments.indexOf('*');
    if (star >= 0 && star !== segments.length - 1) throw new Error(`route pattern ${JSON.stringify(pattern)}: "*" only as the last segment`);
    this.pattern = pattern;
    this.segments = segments;
  }

  matches(pathSegments: string[]): boolean {
    const p = this.segments;
    for (let i = 0; i < p.length; i++) {
      if (p[i] === '*') return pathSegments.length >= i;
      if (i >= pathSegments.length) return false;
      const isParam = p[i].startsWith(':') || (p[i].startsWith('{') && p[i].endsWith('}'));
      if (!isParam && p[i] !== pathSegments[i]) return false;
    }
    return pathSegments.length === p.length;
  }
}

export class RouteTemplater {
  private readonly patterns: RoutePattern[];
  private readonly redact: RegExp[];

  /** redactPatterns: regular expressions whose matches in a route become {redacted} (src/capture/redact.ts). */
  constructor(patterns: string[] = [], redactPatterns: readonly string[] = []) {
    this.patterns = patterns.map((p) => new RoutePattern(p));
    this.redact = compileRedactPatterns(redactPatterns);
  }

  /** The route of a request target (path, maybe with a query). */
  route(target: string): string {
    let end = target.length;
    for (let i = 0; i < target.length; i++) {
      const c = target.charCodeAt(i);
      if (c === 0x3f || c === 0x23) {
        end = i; // ? or #
        break;
      }
    }
    let path = target.slice(0, end);
    const authority = ABSOLUTE_FORM.exec(path); // a proxy's target: "http://user:pass@host/x"
    if (authority) path = path.slice(authority[0].length);
    if (path === '' || path === '*') return path === '' ? '/' : '*';
    const segments = path.split('/').slice(1);
    for (const p of this.patterns) if (p.matches(segments)) return p.pattern;
    let route = '';
    for (const s of segments) {
      route += '/' + (isIdentifier(s) ? ID : s);
      if (route.length > ROUTE_MAX_LENGTH) break;
    }
    return redactPath(route, this.redact).slice(0, ROUTE_MAX_LENGTH);
  }
}
