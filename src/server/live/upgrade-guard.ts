/**
 * Who may open a WebSocket, decided on the upgrade request before any
 * WebSocket exists. Browsers send cookies and reach loopback from any page,
 * so a page on another site must not read the stream:
 *
 *   Origin absent                        → allowed (wscat, curl, scripts: not a browser page)
 *   Origin whose host:port is the Host,  → allowed (the dashboard served by this agent)
 *     the host an IP literal or localhost
 *   Origin in allowedOrigins             → allowed (a dashboard reached by a DNS name:
 *                                           list it, since a rebinding page on evil.example
 *                                           that resolves to this agent is also "same origin")
 *   any other Origin (also "null")       → 403
 *
 * With a token configured, the request must also carry it, as
 * `Authorization: Bearer <token>` or — browsers cannot set headers on a
 * WebSocket — as the subprotocol `bearer.<token>`; else 401. The token is
 * compared in constant time (bearerMatches, shared with the REST guard).
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { bearerMatches } from '../api-auth';
import type { LiveSecurity } from '../../config/live-options';

/** The subprotocol prefix that carries the token for browsers. */
export const BEARER_PROTOCOL_PREFIX = 'bearer.';

/** An HTTP answer instead of the upgrade. */
export interface Refusal {
  status: number;
  reason: string;
  message: string;
  headers?: Record<string, string>;
}

export class UpgradeGuard {
  private readonly token: string | undefined;
  /** As URL.origin spells them: lower-case scheme and host, no default port, no trailing slash. */
  private readonly allowedOrigins: Set<string>;

  constructor(security: Pick<LiveSecurity, 'token' | 'allowedOrigins'>) {
    this.token = security.token;
    this.allowedOrigins = new Set(security.allowedOrigins.map((o) => parseOrigin(o)?.origin ?? o));
  }

  /** Why this upgrade may not proceed, or undefined when it may. */
  refusal(req: IncomingMessage): Refusal | undefined {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, req.headers.host)) {
      return { status: 403, reason: 'Forbidden', message: `origin ${origin} may not open a WebSocket here (same origin, or one of the allowed origins)` };
    }
    if (this.token !== undefined && !carriesToken(req, this.token)) {
      return {
        status: 401,
        reason: 'Unauthorized',
        message: `this WebSocket needs the API token: Authorization: Bearer <token>, or the subprotocol ${BEARER_PROTOCOL_PREFIX}<token>`,
        headers: { 'WWW-Authenticate': 'Bearer realm="http-tracer"' },
      };
    }
    return undefined;
  }

  /**
   * The subprotocol to answer with (ws calls this during the handshake): the
   * offered `bearer.<token>` when it is the token — a browser fails the
   * connection unless one of its offers is echoed — else the first offer.
   */
  selectProtocol(offered: Set<string>): string | false {
    const token = this.token;
    if (token !== undefined) {
      for (const p of offered) if (protocolCarries(p, token)) return p;
    }
    const [first] = offered;
    return first ?? false;
  }

  private originAllowed(origin: string, host: string | undefined): boolean {
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

function carriesToken(req: IncomingMessage, token: string): boolean {
  if (req.headers.authorization !== undefined) return bearerMatches(req.headers.authorization, token);
  const offered = req.headers['sec-websocket-protocol'];
  if (offered === undefined) return false;
  return offered.split(',').some((p) => protocolCarries(p.trim(), token));
}

function protocolCarries(protocol: string, token: string): boolean {
  return protocol.startsWith(BEARER_PROTOCOL_PREFIX) && bearerMatches(`Bearer ${protocol.slice(BEARER_PROTOCOL_PREFIX.length)}`, token);
}
