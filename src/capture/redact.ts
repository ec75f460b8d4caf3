/**
 * Captured request targets made fit to leave the agent: secrets travel in
 * query strings (`/reset-password?email=…&token=…`), in userinfo of absolute
 * targets (`http://user:pass@host/…`, sent to proxies) and in path segments
 * (`/invite/<code>`). One rule, applied before a target is shown anywhere:
 *
 *   query values          name=value   →  name=*        (names kept: they tell what was asked)
 *   userinfo              user:pass@   →  *@
 *   fragment              #…           →  dropped        (browsers never send one)
 *   user patterns         each match of a configured regular expression in the path → {redacted}
 *
 * A parameter without `=` or with an empty value is kept as it is: there is no value to hide.
 */
export const REDACTED = '{redacted}';
export const MASK = '*';

/**
 * The user's patterns, compiled once (global: every match in a path is
 * replaced). Throws on a pattern that is not a regular expression, naming it.
 */
export function compileRedactPatterns(sources: readonly string[]): RegExp[] {
  return sources.map((source) => {
    try {
      return new RegExp(source, 'g');
    } catch (e) {
      throw new Error(`redact pattern ${JSON.stringify(source)}: ${(e as Error).message}`);
    }
  });
}

/** The path with every match of every pattern replaced by {redacted}, in order. */
export function redactPath(path: string, patterns: readonly RegExp[]): string {
  let out = path;
  for (const p of patterns) out = out.replace(p, REDACTED);
  return out;
}

const ABSOLUTE = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?/i;

/** A request target (origin or absolute form) with its query values masked, userinfo masked, fragment dropped, patterns applied to the path. */
export function redactTarget(target: string, patterns: readonly RegExp[]): string {
  const hash = target.indexOf('#');
  const withoutFragment = hash >= 0 ? target.slice(0, hash) : target;
  const question = withoutFragment.indexOf('?');
  let path = question >= 0 ? withoutFragment.slice(0, question) : withoutFragment;
  const absolute = ABSOLUTE.exec(path);
  let prefix = '';
  if (absolute) {
    prefix = absolute[1] + (absolute[2] ? `${MASK}@` : '');
    path = path.slice(absolute[0].length);
  }
  const query = question >= 0 ? `?${maskQueryValues(withoutFragment.slice(question + 1))}` : '';
  return prefix + redactPath(path, patterns) + query;
}

/** `a=1&b=&c` → `a=*&b=&c`. */
function maskQueryValues(query: string): string {
  return query
    .split('&')
    .map((param) => {
      const eq = param.indexOf('=');
      return eq >= 0 && eq < param.length - 1 ? `${param.slice(0, eq + 1)}${MASK}` : param;
    })
    .join('&');
}
