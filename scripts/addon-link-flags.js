#!/usr/bin/env node
'use strict';
/**
 * The linker arguments for the addon's libraries (binding.gyp expands this
 * with <!@(...)).
 *
 * With HT_LIBBPF_A=/path/to/libbpf.a (a position-independent build, see
 * scripts/libbpf-pic.sh), the build that the npm package ships
 * (scripts/prebuild-addon.sh): libbpf linked statically and its symbols kept
 * out of the addon's exported ones (--exclude-libs), so another addon with its
 * own libbpf cannot clash with it. Without it (a build from source on the
 * machine that runs it), the distribution's shared libbpf.
 *
 * libstdc++ stays shared: linked statically it would pull in glibc 2.34-2.36
 * symbols (pthread_*, arc4random), while shared it needs glibc 2.28 and GCC 12's
 * libstdc++ (GLIBCXX_3.4.30, condition_variable::wait), which more systems have.
 * libelf and zlib are always shared: Debian's
 * libelf.a uses the local-exec TLS model (R_X86_64_TPOFF32 in elf_error.o),
 * which cannot go into a shared object, and libelf.so.1 needs libz.so.1 anyway.
 *
 * Order matters: libbpf needs libelf, libelf needs zlib.
 */
const fs = require('node:fs');

function libbpfArgs() {
  const archive = process.env.HT_LIBBPF_A;
  if (!archive) return ['-lbpf'];
  if (!fs.existsSync(archive)) {
    process.stderr.write(`addon-link-flags: HT_LIBBPF_A=${archive}: no such file\n`);
    process.exit(1);
  }
  return ['-Wl,--exclude-libs,ALL', archive];
}

process.stdout.write([...libbpfArgs(), '-lelf', '-lz'].join(' ') + '\n');
