/**
 * Finds and loads the native addon (types in ./addon) with node-gyp-build:
 * build/Release first (a build from source: the working tree's, or the npm
 * install script's fallback), then prebuilds/linux-ARCH (the npm package's
 * prebuilt, see scripts/prebuild-addon.sh).
 */
import os from 'node:os';
import path from 'node:path';
import { TracerError } from '../errors';
import { packageRoot } from '../package-root';
import type { Addon } from './addon';

interface NodeGypBuild {
  /** The addon file node-gyp-build would load for this platform and Node; throws when there is none. */
  path(dir: string): string;
}
// node-gyp-build ships no types: the one function used, typed above.
const nodeGypBuild = require('node-gyp-build') as NodeGypBuild;

/** What a build from source needs, as Debian/Ubuntu packages (scripts/install.js checks each). */
export const SOURCE_BUILD_PACKAGES = 'clang, bpftool, make, g++, python3, libbpf-dev, libelf-dev and zlib1g-dev';

const WHAT_TO_DO =
  'What to do:\n' +
  `  - installed with npm: install ${SOURCE_BUILD_PACKAGES} (and a kernel with BTF), ` +
  'then "npm rebuild -g ebpf-http-tracer" (without -g for a local install) builds it from source;\n' +
  '  - in a git checkout: "bash scripts/setup.sh".';

let cached: Addon | undefined;

export function loadAddon(): Addon {
  cached ??= loadAddonFrom(packageRoot(__dirname));
  return cached;
}

/** Loads the addon of the package at root (no caching); HT_ERR_ADDON_LOAD saying what was looked for, and what to do. */
export function loadAddonFrom(root: string): Addon {
  const target = `${os.platform()}-${os.arch()}`;
  let file: string;
  try {
    file = nodeGypBuild.path(root);
  } catch (err) {
    throw new TracerError(
      'HT_ERR_ADDON_LOAD',
      `cannot load the native addon: there is none for ${target} in ${path.join(root, 'build', 'Release')} (a build from source) ` +
        `nor in ${path.join(root, 'prebuilds', target)} (the npm package ships a prebuilt one for linux-x64 only).\n${WHAT_TO_DO}`,
      { cause: err },
    );
  }
  try {
    return require(file) as Addon;
  } catch (err) {
    throw new TracerError(
      'HT_ERR_ADDON_LOAD',
      `cannot load the native addon ${file}: ${(err as Error).message}\n` +
        'The prebuilt addon needs glibc 2.28 or newer, libstdc++ from GCC 12 or newer, libelf.so.1 and libz.so.1 ' +
        '(Debian/Ubuntu: libc6, libstdc++6, libelf1, zlib1g).\n' +
        WHAT_TO_DO,
      { cause: err },
    );
  }
}
