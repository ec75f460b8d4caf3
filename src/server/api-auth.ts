/**
 * The bearer token on the HTTP port. With a token configured:
 *   - every write (any method but GET/HEAD/OPTIONS under /api/) needs it;
 *   - with protectReads, every read under /api/ and the metrics path too —
 *     except /api/health, the liveness probe Kubernetes and load balancers
 *     call without secrets (it carries counts and probe names, no captured data).
 * Without a token, nothing is guarded (the default bind is loopback only).
 * A refusal is a 401 with `WWW-Authenticate: Bearer` and a JSON error; the
 * comparison takes the same time whatever the guess.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sendError } from './http-errors';

export interface ApiSecurity {
  /** The token, as read at start (at least 16 characters); undefined: no guard. */
  token?: string;
  /** Guard reads too (the REST API and /metrics), not only writes. */
  protectReads: boolean;
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

export function installApiAuth(app: FastifyInstance, security: ApiSecurity, metricsPath: string): void {
  const { token } = security;
  if (token === undefined) return;
  const guarded = (req: FastifyRequest): boolean => {
    const path = routedPath(req.url);
    if (path === undefined) return true; // undecodable: the router refuses it; never let it through unguarded
    if (OPEN_PATHS.includes(path)) return false;
    const api = path.startsWith('/api/');
    if (!READ_METHODS.has(req.method)) return api;
    return security.protectReads && (api || path === metricsPath);
  };
  app.addHook('onRequest', async (req, reply) => {
    if (!guarded(req) || bearerMatches(req.headers.authorization, token)) return;
    const given = req.headers.authorization !== undefined;
    reply.header('www-authenticate', given ? 'Bearer realm="http-tracer", error="invalid_token"' : 'Bearer realm="http-tracer"');
    return sendError(reply, 401, {
      code: 'HT_ERR_UNAUTHORIZED',
      error: 'unauthorized',
      message: given ? 'the bearer token is not the configured one' : 'this path needs the API token: Authorization: Bearer <token>',
    });
  });
}
