/**
 * How the port says no: one JSON error body with a stable code (from
 * src/errors.ts) for every refusal — a bad parameter or a query the store
 * cannot answer (400, naming the field), an unknown path (404), a known path
 * with another method (405 with Allow), CONNECT (405, then the socket is
 * closed: this is not a proxy). Nothing a client sends is a 500.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { Duplex } from 'node:stream';
import { StoreQueryError } from '../analytics/store';
import type { ErrorCode } from '../errors';

export interface ErrorBody {
  code: ErrorCode;
  /** Short, for people: "bad request", "not found", … */
  error: string;
  message: string;
  field?: string;
}

export function sendError(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).send(body);
}

/** 400 naming the field: the shape of every validation error, from the schema or a route. */
export function badRequest(reply: FastifyReply, field: string, message: string, code: ErrorCode = 'HT_ERR_BAD_REQUEST'): FastifyReply {
  return sendError(reply, 400, { code, error: 'bad request', field, message });
}

const pathOf = (url: string): string => url.split('?')[0];

/** Fastify's own refusals before routing (a URL that does not decode): the same body as every other refusal. */
export function frameworkErrors(err: FastifyError, _req: unknown, reply: FastifyReply): void {
  void sendError(reply, 400, { code: 'HT_ERR_BAD_REQUEST', error: 'bad request', message: err.message });
}

/** Installs the not-found, method-not-allowed and error handlers; call before registering routes. */
export function installErrorHandling(app: FastifyInstance): void {
  // Every path's methods, to tell a wrong method (405) from an unknown path (404).
  const methods = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const set = methods.get(route.url) ?? new Set<string>();
    for (const m of [route.method].flat()) set.add(m);
    methods.set(route.url, set);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = pathOf(req.url);
    const allowed = methods.get(path);
    if (allowed) {
      const allow = [...allowed].sort().join(', ');
      reply.header('allow', allow);
      return sendError(reply, 405, { code: 'HT_ERR_METHOD_NOT_ALLOWED', error: 'method not allowed', message: `${req.method} ${path}: allowed ${allow}` });
    }
    return sendError(reply, 404, { code: 'HT_ERR_NOT_FOUND', error: 'not found', message: `no route ${req.method} ${path}` });
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const v = err.validation[0];
      const params = v.params as Record<string, unknown>;
      // The whole body (or query) failing its schema has no path: name what it is.
      const field = (params.missingProperty ?? params.additionalProperty ?? (v.instancePath.replace(/^\//, '') || (err.validationContext ?? 'body'))) as string;
      const reason = params.additionalProperty ? 'is not a known parameter' : (v.message ?? 'is invalid');
      return badRequest(reply, field, `${field}: ${reason}`);
    }
    // The store refuses what it cannot serve (a window past the retention, a step finer than kept): the query's fault.
    if (err instanceof StoreQueryError) return badRequest(reply, err.field, err.message, 'HT_ERR_QUERY');
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, { code: 'HT_ERR_BAD_REQUEST', error: 'bad request', message: err.message });
    }
    // A bug: in the log with its stack (the client gets the message only).
    reply.log.error({ err, method: req.method, url: req.url }, `${req.method} ${req.url}: answered 500: ${err.message}`);
    return sendError(reply, 500, { code: 'HT_ERR_INTERNAL', error: 'internal error', message: err.message });
  });

  // Node hands CONNECT to a 'connect' listener and, with none, drops the socket without a word.
  app.server.on('connect', (_req: unknown, socket: Duplex) => {
    const body = JSON.stringify({ code: 'HT_ERR_METHOD_NOT_ALLOWED', error: 'method not allowed', message: 'CONNECT: this port is not a proxy' } satisfies ErrorBody);
    socket.on('error', () => socket.destroy());
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}
