/**
 * The error catalog: every error the agent raises on purpose has a stable
 * code from this list, so callers and tests match on codes, not messages.
 */
export const ErrorCodes = {
  HT_ERR_ADDON_LOAD: 'the native addon could not be loaded',
  HT_ERR_ABI_MISMATCH: 'the TypeScript decoder and the addon disagree on the record layout',
  HT_ERR_OPTION: 'an option has an invalid value',
  HT_ERR_USAGE: 'the command line could not be understood',
  HT_ERR_CAPTURE_FILE: 'a capture file is malformed',
  HT_ERR_PRECONDITION: 'the machine cannot run the capture (privileges, BTF, tracefs)',
  HT_ERR_LISTEN: 'the agent could not open its HTTP port',
  HT_ERR_DATA_DIR: 'the data directory (--data-dir, HTTP_TRACER_DATA_DIR) cannot hold the agent\'s state (the database, the forwarding queues)',
  // Answers of the HTTP port: the `code` field of every JSON error body.
  HT_ERR_BAD_REQUEST: 'a request parameter, header or body is invalid',
  HT_ERR_QUERY: 'the store cannot answer the query as asked (window, step, start)',
  HT_ERR_NOT_FOUND: 'no such path',
  HT_ERR_METHOD_NOT_ALLOWED: 'the path exists, but not for this method (see Allow)',
  HT_ERR_UNAUTHORIZED: 'a valid bearer token is required',
  HT_ERR_FORBIDDEN: 'writes without a configured token are accepted only from loopback, and never from another site\'s page',
  HT_ERR_CONFLICT: 'the resource cannot change that way (a rule from the configuration file, an incident already resolved)',
  HT_ERR_ALERTING_DISABLED: 'alerting is off (enable_alerting: false)',
  HT_ERR_INTERNAL: 'the agent failed to answer (a bug: please report it)',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class TracerError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TracerError';
    this.code = code;
  }
}
