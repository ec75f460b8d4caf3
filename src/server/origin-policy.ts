/**
 * Which browser pages may act on this port. Browsers reach loopback from any
 * site and attach no proof of where they came from but the Origin header, so
 * a page on another site must not open the live stream nor write through the
 * API (CSRF):
 *
 *   Origin absent                        → allowed (curl, scripts, Prometheus: not a browser page)
 *   Origin whose host:port is the Host,  → allowed (the dashboard served by this agent)
 *     the host an IP literal or localhost
 *   Origin in allowedOrigins             → allowed (a dashboard reached by a DNS name:
 *                                           list it, since a rebinding page on evil.example
 *                                           that resolves to this agent is also "same origin")
 *   any other Origin (also "null")       → refused
 */
import { isIP } from 'node:net';

export class OriginPolicy {
  /** As URL.origin spells them: lower-case scheme and host, no default port, no trailing slash. */
  private readonly allowedOrigins: Set<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.allowedOrigins = new Set(allowedOrigins.map((o) => parseOrigin(o)?.origin ?? o));
  }

  /** Whether a request with this Origin (undefined: none sent) and Host may proceed. */
  allows(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    const url = parseOrigin(origin);
    if (!url) return false; // "null" (sandboxed frames, file://) and anything unparsable
    if (this.allowedOrigins.has(url.origin)) return true;
    if (host === undefined) return false;
    // Host parsed with the origin's scheme, so default ports compare equal ("a:80" and "http://a").
    if (parseOrigin(`${url.protocol}//${host}`)?.host !== url.host) return false;
    // Same origin by a DNS name proves nothing against DNS rebinding: only addresses and localhost.
    return url.hostname === 'localhost' || isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0;
  }
}

function parseOrigin(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
