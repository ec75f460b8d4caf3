/**
 * How the TLS probes find their objects (no eBPF needed): the executable
 * mappings of /proc/<pid>/maps, and the file offsets of the exported SSL
 * functions as `nm -D` lists them (libssl.so.3 loads its segments at their
 * file offsets, so its symbol values are file offsets).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { exportedFunctionOffsets } from '../../src/capture/tls/elf-symbols';
import { isLibssl, parseExecutableMappings } from '../../src/capture/tls/proc-maps';
import { TLS_FUNCTIONS } from '../../src/capture/tls/tls-probes';
import { fileSkipReason, run } from '../helpers/kernel';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

t.test('the SSL functions of libssl.so.3 at the offsets nm -D gives', { skip: fileSkipReason(LIBSSL, 'libssl3') }, async (t) => {
  const nm = await run('nm', ['-D', '--defined-only', LIBSSL]);
  t.equal(nm.code, 0, 'nm ran');
  const expected = new Map<string, number>();
  for (const l of nm.stdout.split('\n')) {
    const [value, type, versioned = ''] = l.split(' ');
    const name = versioned.split('@')[0]; // SSL_read@@OPENSSL_3.0.0
    if (type === 'T' && (TLS_FUNCTIONS as readonly string[]).includes(name)) expected.set(name, parseInt(value, 16));
  }
  t.equal(expected.size, 6, 'nm lists all six');
  t.same(Object.fromEntries(exportedFunctionOffsets(LIBSSL, TLS_FUNCTIONS)), Object.fromEntries(expected), 'the same offsets');
  t.same([...exportedFunctionOffsets(LIBSSL, ['SSL_no_such_function', 'malloc']).keys()], [], 'undefined and imported names are not found');
});

t.test('a file that is not ELF is refused with its name', async (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tls-objects-')), 'not-elf');
  fs.writeFileSync(file, Buffer.alloc(128, 0x41));
  t.teardown(() => fs.rmSync(path.dirname(file), { recursive: true }));
  t.throws(() => exportedFunctionOffsets(file, TLS_FUNCTIONS), { message: `${file}: not a 64-bit little-endian ELF object` });
});

t.test('executable file mappings from a maps file, once per file, deleted ones left out', async (t) => {
  const maps = [
    '55d0c0a00000-55d0c0a20000 r--p 00000000 fe:00 260689                     /usr/bin/node',
    '55d0c0a20000-55d0c2000000 r-xp 00020000 fe:00 260689                     /usr/bin/node',
    '7f1c2a01f000-7f1c2a07c000 r-xp 0001f000 fe:01 1835023                    /usr/lib/x86_64-linux-gnu/libssl.so.3',
    '7f1c2a07c000-7f1c2a09b000 r--p 0007c000 fe:01 1835023                    /usr/lib/x86_64-linux-gnu/libssl.so.3',
    '7f1c2b000000-7f1c2b001000 r-xp 00000000 fe:01 99                         /tmp/gone (deleted)',
    '7f1c2c000000-7f1c2c021000 rw-p 00000000 00:00 0                          [heap]',
    '7ffd1e1fe000-7ffd1e200000 r-xp 00000000 00:00 0                          [vdso]',
  ].join('\n');
  t.same(parseExecutableMappings(42, maps), [
    { key: 'fe:00:260689', path: '/usr/bin/node', openPath: '/proc/42/root/usr/bin/node' },
    { key: 'fe:01:1835023', path: '/usr/lib/x86_64-linux-gnu/libssl.so.3', openPath: '/proc/42/root/usr/lib/x86_64-linux-gnu/libssl.so.3' },
  ]);
  t.same(['/lib/libssl.so.3', '/lib/libssl.so', '/usr/lib/libssl3.so', '/lib/libssl.so.1.1', '/lib/libssl-x.so'].map(isLibssl), [true, true, false, true, false], "OpenSSL's libssl, not NSS's libssl3");
});
