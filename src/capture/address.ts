/** Formatting of the 16-byte address fields of a record. */
import { AF_INET } from './abi';

export function formatAddress(bytes: Uint8Array, offset: number, family: number): string {
  if (family === AF_INET) {
    return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  }
  // IPv4-mapped IPv6 (::ffff:a.b.c.d), as a dual-stack listener sees IPv4 peers.
  let mapped = bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = bytes[offset + i] === 0;
  if (mapped) return `::ffff:${formatAddress(bytes, offset + 12, AF_INET)}`;

  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[offset + i] << 8) | bytes[offset + i + 1]);
  // RFC 5952: the longest run (of 2 or more) of zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLength).join(':');
  return `${left}::${right}`;
}

/** host:port, with IPv6 hosts in brackets. */
export function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
