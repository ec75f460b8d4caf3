import t from 'tap';
import { formatAddress, formatEndpoint } from '../../src/capture/address';

const v6 = (...groups: number[]): Uint8Array => {
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
};

t.test('IPv4', async (t) => {
  t.equal(formatAddress(Uint8Array.from([192, 168, 0, 1, ...Array(12).fill(9)]), 0, 2), '192.168.0.1');
});

t.test('IPv6 in RFC 5952 form', async (t) => {
  t.equal(formatAddress(v6(0, 0, 0, 0, 0, 0, 0, 1), 0, 10), '::1');
  t.equal(formatAddress(v6(0, 0, 0, 0, 0, 0, 0, 0), 0, 10), '::');
  t.equal(formatAddress(v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1), 0, 10), '2001:db8::1:0:0:1');
  t.equal(formatAddress(v6(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6), 0, 10), '2001:db8:1:2:3:4:5:6');
  t.equal(formatAddress(v6(0xfe80, 0, 0, 0, 0xabc, 0, 0, 0), 0, 10), 'fe80::abc:0:0:0');
  t.equal(formatAddress(v6(1, 0, 2, 3, 4, 5, 6, 7), 0, 10), '1:0:2:3:4:5:6:7', 'a single zero group is not compressed');
});

t.test('IPv4-mapped IPv6', async (t) => {
  t.equal(formatAddress(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]), 0, 10), '::ffff:127.0.0.1');
});

t.test('endpoints', async (t) => {
  t.equal(formatEndpoint('::1', 80), '[::1]:80');
  t.equal(formatEndpoint('10.0.0.1', 443), '10.0.0.1:443');
});
