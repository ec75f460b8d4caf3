/**
 * JSON Schema pieces every route shares: query strings that refuse unknown
 * parameters, the error body of every refusal, and number shapes.
 *
 * Response schemas are what Fastify serializes with (fast-json-stringify):
 * a property a schema does not list is dropped, a number that is not finite
 * fails the reply. So every JSON route lists every property it sends (maps
 * as additionalProperties), numbers that can be null say so, and
 * test/server/routes.test.ts compares each answer with the object the route
 * returned. Captured strings are escaped before that (app.ts, preSerialization).
 */
import { ErrorCodes } from '../../errors';

/** A route's query parameters; any other parameter is refused (400 naming it). */
export const querySchema = (properties: Record<string, object>) => ({ type: 'object', additionalProperties: false, properties }) as const;
export const NO_QUERY = querySchema({});

/** The body of every refusal (http-errors.ts ErrorBody). */
export const ERROR_BODY = {
  type: 'object',
  required: ['code', 'error', 'message'],
  properties: {
    code: { type: 'string', enum: Object.keys(ErrorCodes) },
    error: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string' },
  },
} as const;

/** 400 (a parameter), 401/403 (api-auth.ts), 404/405, and 500 (a bug): one shape. */
export const ERROR_RESPONSES = { '4xx': ERROR_BODY, '5xx': ERROR_BODY } as const;

export const INTEGER = { type: 'integer' } as const;
export const NUMBER = { type: 'number' } as const;
/** A number JSON cannot carry otherwise (no data: NaN, ±Infinity) goes out as null. */
export const NUMBER_OR_NULL = { type: ['number', 'null'] } as const;
export const STRING = { type: 'string' } as const;
export const STRING_OR_NULL = { type: ['string', 'null'] } as const;

/** A time (Unix ms) as answers show it: ISO 8601, or null when there is none. NaN numbers need no such help: the app's preSerialization hook sends them as null. */
export const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
export const STRINGS = { type: 'array', items: STRING } as const;

/** An object whose every listed property is present. */
export const object = (properties: Record<string, object>, extra: Partial<{ additionalProperties: object | boolean; nullable: boolean }> = {}) => ({
  type: extra.nullable ? ['object', 'null'] : 'object',
  required: Object.keys(properties),
  properties,
  ...(extra.additionalProperties !== undefined ? { additionalProperties: extra.additionalProperties } : {}),
});
