/**
 * The addon loader (src/capture/addon-load.ts): what it loads in the working
 * tree, and the HT_ERR_ADDON_LOAD error when nothing loads, which must say
 * what was looked for and what to do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadAddonFrom, SOURCE_BUILD_PACKAGES } from '../../src/capture/addon-load';
import { TracerError } from '../../src/errors';
import { packageRoot } from '../../src/package-root';

const target = `${os.platform()}-${os.arch()}`;

function loadError(root: string): TracerError {
  try {
    loadAddonFrom(root);
  } catch (e) {
    if (e instanceof TracerError) return e;
    throw e;
  }
  throw new Error(`loadAddonFrom(${root}) loaded something`);
}

function emptyPackage(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'addon-load-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'ebpf-http-tracer' }));
  return dir;
}

t.test('the working tree: build/Release, the build from source', async (t) => {
  const root = packageRoot(__dirname);
  const addon = loadAddonFrom(root);
  t.type(addon.layout, 'function');
  t.type(addon.monotonicNs(), 'bigint');
});

t.test('no addon anywhere: both places named, and what to do', async (t) => {
  const dir = emptyPackage(t);
  const e = loadError(dir);
  t.equal(e.code, 'HT_ERR_ADDON_LOAD');
  t.equal(
    e.message.split('\n')[0],
    `cannot load the native addon: there is none for ${target} in ${dir}/build/Release (a build from source) ` +
      `nor in ${dir}/prebuilds/${target} (the npm package ships a prebuilt one for linux-x64 only).`,
  );
  t.match(e.message, `install ${SOURCE_BUILD_PACKAGES} (and a kernel with BTF), then "npm rebuild -g ebpf-http-tracer"`);
  t.match(e.message, 'in a git checkout: "bash scripts/setup.sh"');
  t.match((e.cause as Error).message, /^No native build was found for platform=/);
});

t.test('an addon that does not load: the file, the loader\'s reason, and what the prebuilt needs', async (t) => {
  const dir = emptyPackage(t);
  const file = path.join(dir, 'prebuilds', target, 'ebpf-http-tracer.node');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'not an ELF file');
  const e = loadError(dir);
  t.equal(e.code, 'HT_ERR_ADDON_LOAD');
  t.match(e.message.split('\n')[0], `cannot load the native addon ${file}: `);
  t.match(e.message.split('\n')[0], /invalid ELF header|file too short/);
  t.match(e.message, 'needs glibc 2.28 or newer, libstdc++ from GCC 12 or newer, libelf.so.1 and libz.so.1');
  t.match(e.message, '"npm rebuild -g ebpf-http-tracer"');
});
