/**
 * Who may open a WebSocket, decided on the upgrade request before any
 * WebSocket exists: a page on another site must not read the stream, so the
 * Origin must pass the port's OriginPolicy (origin-policy.ts), else 403.
 *
 * With a token configured, the request must also carry it, as
 * `Authorization: Bearer <token>` or — browsers cannot set headers on a
 * WebSocket — as the subprotocol `bearer.<token>`; else 401. The token is
 * compared in constant time (bearerMatches, shared with the REST guard).
 */
import type { IncomingMessage } from 'node:http';
import { bearerMatches } from '../api-auth';
import { OriginPolicy } from '../origin-policy';
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
  private readonly origins: OriginPolicy;

  constructor(security: Pick<LiveSecurity, 'token' | 'allowedOrigins'>) {
    this.token = security.token;
    this.origins = new OriginPolicy(security.allowedOrigins);
  }

  /** Why this upgrade may not proceed, or undefined when it may. */
  refusal(req: IncomingMessage): Refusal | undefined {
    const origin = req.headers.origin;
    if (!this.origins.allows(origin, req.headers.host)) {
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
