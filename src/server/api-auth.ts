/**
 * Who may write and read through the HTTP port. A write is any method but
 * GET/HEAD/OPTIONS under /api/ (creating an alert rule, acknowledging an
 * incident).
 *   - Every write from a browser page must come from an allowed origin
 *     (origin-policy.ts): another site's page cannot act on the agent (403).
 *   - With a token configured, every write needs it, and with protectReads
 *     every read under /api/ and the metrics path too — except /api/health
 *     (and /healthz, /readyz, outside /api/), which Kubernetes and load
 *     balancers call without secrets (counts and probe names, no captured
 *     data). A refusal is a
 *     401 with `WWW-Authenticate: Bearer`; the comparison takes the same time
 *     whatever the guess.
 *   - Without a token, writes are accepted only from loopback (403 for any
 *     other peer); reads stay open (the default bind is loopback only).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sendError } from './http-errors';
import { OriginPolicy } from './origin-policy';

export interface ApiSecurity {
  /** The token, as read at start (at least 16 characters); undefined: no guard. */
  token?: string;
  /** Guard reads too (the REST API and /metrics), not only writes. */
  protectReads: boolean;
  /** Browser origins allowed to write besides the agent's own. Default none. */
  allowedOrigins?: readonly string[];
}

const OPEN_PATHS = ['/api/health'];
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Whether the Authorization header carries the token; hashes first so that lengths never leak through timing. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]), digest(token));
}

/** The path as the router matches it: percent-decoded, so that /%61pi/stats cannot walk around the guard of /api/stats. */
function routedPath(url: string): string | undefined {
  try {
    return decodeURIComponent(url.split('?')[0]);
  } catch {
    return undefined;
  }
}

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || /^(::ffff:)?127\./.test(address));
}

export function installApiAuth(app: FastifyInstance, security: ApiSecurity, metricsPath: string): void {
  const { token } = security;
  const origins = new OriginPolicy(security.allowedOrigins ?? []);
  /** 'write', 'read' (guarded with protectReads) or 'open'. */
  const kind = (req: FastifyRequest): 'write' | 'read' | 'open' => {
    const path = routedPath(req.url);
    if (path === undefined) return 'write'; // undecodable: the router refuses it; never let it through unguarded
    if (OPEN_PATHS.includes(path)) return 'open';
    const api = path.startsWith('/api/');
    if (!READ_METHODS.has(req.method)) return api ? 'write' : 'open';
    return api || path === metricsPath ? 'read' : 'open';
  };
  app.addHook('onRequest', async (req, reply) => {
    const k = kind(req);
    if (k === 'write' && !origins.allows(req.headers.origin, req.headers.host)) {
      return sendError(reply, 403, { code: 'HT_ERR_FORBIDDEN', error: 'forbidden', message: `origin ${req.headers.origin} may not write here (same origin, or one of allowed_origins)` });
    }
    if (token === undefined) {
      if (k !== 'write' || isLoopback(req.socket.remoteAddress)) return;
      return sendError(reply, 403, {
        code: 'HT_ERR_FORBIDDEN',
        error: 'forbidden',
        message: `writes from ${req.socket.remoteAddress} need an API token on the agent (HTTP_TRACER_API_TOKEN); without one, only loopback may write`,
      });
    }
    const guarded = k === 'write' || (k === 'read' && security.protectReads);
    if (!guarded || bearerMatches(req.headers.authorization, token)) return;
    const given = req.headers.authorization !== undefined;
    reply.header('www-authenticate', given ? 'Bearer realm="http-tracer", error="invalid_token"' : 'Bearer realm="http-tracer"');
    return sendError(reply, 401, {
      code: 'HT_ERR_UNAUTHORIZED',
      error: 'unauthorized',
      message: given ? 'the bearer token is not the configured one' : 'this path needs the API token: Authorization: Bearer <token>',
    });
  });
}
