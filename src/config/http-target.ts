/**
 * The URL and headers of an HTTP target the agent sends to (notification
 * receivers, forwarding targets), checked once at start-up. A URL must be
 * http or https; credentials in it (user:pass@) become a Basic
 * Authorization header (fetch refuses URLs that carry them). Header values
 * are never shown in messages: they often are secrets.
 */
import { fail, isObject, refuse } from './validate';

/** Set by the agent for every request: a target may not change them. */
const RESERVED_HEADERS = new Set(['content-length', 'content-type', 'content-encoding', 'host', 'transfer-encoding', 'connection']);

/** An http(s) URL; user:pass@ moved into an Authorization header. */
export function httpTargetUrl(where: string, raw: unknown): { url: string; headers: Record<string, string> } {
  let parsed: URL | undefined;
  try {
    if (typeof raw === 'string') parsed = new URL(raw);
  } catch {
    // refused below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) fail(where, raw, 'must be an http or https URL');
  const url = parsed as URL;
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  url.hash = '';
  return { url: url.href, headers };
}

/** Header values are not shown in messages: they often are secrets. */
export function httpTargetHeaders(where: string, raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (!isObject(raw)) fail(where, raw, 'must be an object of header names and string values');
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'string') refuse(`${where}.${name}`, 'must be a string');
    if (RESERVED_HEADERS.has(name.toLowerCase())) refuse(`${where}.${name}`, 'is set by the agent; remove it');
    try {
      new Headers([[name, value as string]]);
    } catch {
      refuse(`${where}.${name}`, 'is not a valid HTTP header (a token for a name; a value without line breaks)');
    }
    out[name.toLowerCase()] = value as string;
  }
  return out;
}
