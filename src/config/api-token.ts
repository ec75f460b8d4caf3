/**
 * The API token, read once at start: from HTTP_TRACER_API_TOKEN, or from a
 * file (HTTP_TRACER_API_TOKEN_FILE, or output.analytics.api_token_file: a
 * mounted Kubernetes secret). Trimmed; at least 16 visible ASCII characters.
 * Messages never show the token.
 */
import fs from 'node:fs';
import { refuse } from './validate';

export const MIN_TOKEN_LENGTH = 16;
const MAX_TOKEN_FILE_BYTES = 4096;
const TOKEN = /^[\x21-\x7e]+$/;

function checked(where: string, raw: string): string {
  const token = raw.trim();
  if (token.length < MIN_TOKEN_LENGTH) refuse(where, `the token must be at least ${MIN_TOKEN_LENGTH} characters (it has ${token.length})`);
  if (!TOKEN.test(token)) refuse(where, 'the token must be visible ASCII characters without spaces');
  return token;
}

/** A regular file, read without ever opening anything else (a FIFO would block the read). */
export function readRegularFile(where: string, file: string, maxBytes: number): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    return refuse(where, `${JSON.stringify(file)} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!stat.isFile()) refuse(where, `${JSON.stringify(file)} is not a regular file (${stat.isDirectory() ? 'a directory' : stat.isFIFO() ? 'a FIFO' : 'a device or socket'})`);
  if (stat.size > maxBytes) refuse(where, `${JSON.stringify(file)} is larger than ${maxBytes} bytes`);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    return refuse(where, `${JSON.stringify(file)} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The token, or undefined when none is configured. `configFile`: api_token_file from the file, with where it was set. */
export function readApiToken(env: NodeJS.ProcessEnv, configFile?: { where: string; path: unknown }): string | undefined {
  if (env.HTTP_TRACER_API_TOKEN !== undefined && env.HTTP_TRACER_API_TOKEN_FILE !== undefined) {
    refuse('HTTP_TRACER_API_TOKEN_FILE', 'set either HTTP_TRACER_API_TOKEN or HTTP_TRACER_API_TOKEN_FILE, not both');
  }
  if (env.HTTP_TRACER_API_TOKEN !== undefined) return checked('HTTP_TRACER_API_TOKEN', env.HTTP_TRACER_API_TOKEN);
  const [where, file] = env.HTTP_TRACER_API_TOKEN_FILE !== undefined ? ['HTTP_TRACER_API_TOKEN_FILE', env.HTTP_TRACER_API_TOKEN_FILE] : [configFile?.where, configFile?.path];
  if (where === undefined || file === undefined) return undefined;
  if (typeof file !== 'string' || file === '') refuse(where, `${JSON.stringify(file)} must be a file path`);
  return checked(where, readRegularFile(where, file, MAX_TOKEN_FILE_BYTES));
}
