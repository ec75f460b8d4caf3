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

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

export function parseRequestHead(bytes: Uint8Array): RequestHead | undefined {
  const methodEnd = bytes.indexOf(SP);
  if (methodEnd <= 0) return undefined;
  let targetEnd = bytes.indexOf(SP, methodEnd + 1);
  const lineEnd = bytes.indexOf(LF);
  if (targetEnd < 0 || (lineEnd >= 0 && targetEnd > lineEnd)) {
    // Start line cut off by the capture limit: keep what we have of the target.
    targetEnd = lineEnd >= 0 ? lineEnd : bytes.length;
    if (targetEnd > methodEnd + 1 && bytes[targetEnd - 1] === CR) targetEnd--;
  }
  const head: RequestHead = {
    method: ascii(bytes, 0, methodEnd),
    target: ascii(bytes, methodEnd + 1, targetEnd),
    host: undefined,
  };
  if (lineEnd < 0) return head;
  let lineStart = lineEnd + 1;
  while (lineStart < bytes.length) {
    const next = bytes.indexOf(LF, lineStart);
    if (next < 0) break; // a header line cut off: ignore it
    const end = next > lineStart && bytes[next - 1] === CR ? next - 1 : next;
    if (end === lineStart) break; // end of headers
    if (end - lineStart > 5 && (bytes[lineStart] | 0x20) === 0x68 && ascii(bytes, lineStart, lineStart + 5).toLowerCase() === 'host:') {
      head.host = ascii(bytes, lineStart + 5, end).trim();
      break;
    }
    lineStart = next + 1;
  }
  return head;
}

/** The path of a request target, without query or fragment. */
export function targetPath(target: string): string {
  let path = target;
  if (!path.startsWith('/')) {
    // absolute form: http://host/path
    const scheme = path.indexOf('://');
    if (scheme >= 0) {
      const slash = path.indexOf('/', scheme + 3);
      path = slash >= 0 ? path.slice(slash) : '/';
    }
  }
  const cut = path.search(/[?#]/);
  return cut >= 0 ? path.slice(0, cut) : path;
}
