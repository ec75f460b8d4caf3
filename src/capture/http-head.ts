/**
 * What the request head bytes of an exchange say: method, target (path and
 * query) and Host. The bytes may be cut anywhere (the capture keeps the first
 * N); a part that is not complete is reported as missing, never guessed.
 */
export interface RequestHead {
  method: string;
  /** Request target as sent: origin form ("/a?b=1") or absolute form. */
  target: string;
  /** Host header, or undefined when absent or cut off. */
  host: string | undefined;
}

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;

/** True when bytes[at..at+5) is "host:" in any case. */
function isHostHeader(bytes: Buffer, at: number): boolean {
  return (
    (bytes[at] | 0x20) === 0x68 &&
    (bytes[at + 1] | 0x20) === 0x6f &&
    (bytes[at + 2] | 0x20) === 0x73 &&
    (bytes[at + 3] | 0x20) === 0x74 &&
    bytes[at + 4] === COLON
  );
}

/** Index of the first `byte` in bytes[from..), or -1. A JS loop: heads are short,
 * and Buffer#indexOf costs a native call each time. */
function find(bytes: Buffer, byte: number, from: number): number {
  for (let i = from; i < bytes.length; i++) if (bytes[i] === byte) return i;
  return -1;
}

const METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'PATCH', 'TRACE', 'DELETE', 'OPTIONS', 'CONNECT'];

/** Short byte ranges decoded in JS: cheaper than Buffer#toString's native call. */
function latin1(bytes: Buffer, start: number, end: number): string {
  if (end - start > 64) return bytes.toString('latin1', start, end);
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** The standard methods as shared constant strings; anything else decoded. */
function methodName(bytes: Buffer, end: number): string {
  for (const m of METHODS) {
    if (m.length !== end) continue;
    let same = true;
    for (let i = 0; i < end && same; i++) same = bytes[i] === m.charCodeAt(i);
    if (same) return m;
  }
  return latin1(bytes, 0, end);
}

export function parseRequestHead(bytes: Buffer): RequestHead | undefined {
  const methodEnd = find(bytes, SP, 0);
  if (methodEnd <= 0) return undefined;
  let targetEnd = methodEnd + 1;
  while (targetEnd < bytes.length && bytes[targetEnd] !== SP && bytes[targetEnd] !== LF) targetEnd++;
  // A start line cut off by the capture limit keeps what it has of the target.
  if (bytes[targetEnd] !== SP && targetEnd > methodEnd + 1 && bytes[targetEnd - 1] === CR) targetEnd--;
  const head: RequestHead = {
    method: methodName(bytes, methodEnd),
    target: latin1(bytes, methodEnd + 1, targetEnd),
    host: undefined,
  };
  const lineEnd = find(bytes, LF, targetEnd);
  if (lineEnd < 0) return head;
  let lineStart = lineEnd + 1;
  while (lineStart < bytes.length) {
    const next = find(bytes, LF, lineStart);
    if (next < 0) break; // a header line cut off: ignore it
    const end = next > lineStart && bytes[next - 1] === CR ? next - 1 : next;
    if (end === lineStart) break; // end of headers
    if (end - lineStart > 5 && isHostHeader(bytes, lineStart)) {
      head.host = latin1(bytes, lineStart + 5, end).trim();
      break;
    }
    lineStart = next + 1;
  }
  return head;
}

/** The path of a request target, without query or fragment. */
export function targetPath(target: string): string {
  let path = target;
  if (path.charCodeAt(0) !== 0x2f) {
    // absolute form: http://host/path
    const scheme = path.indexOf('://');
    if (scheme >= 0) {
      const slash = path.indexOf('/', scheme + 3);
      path = slash >= 0 ? path.slice(slash) : '/';
    }
  }
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f || c === 0x23) return path.slice(0, i); // ? or #
  }
  return path;
}
