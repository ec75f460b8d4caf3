/** Finds and loads the native addon (types in ./addon). */
import path from 'node:path';
import { TracerError } from '../errors';
import type { Addon } from './addon';

let cached: Addon | undefined;

export function loadAddon(): Addon {
  if (cached) return cached;
  const file = path.join(__dirname, '..', '..', 'build', 'Release', 'http_tracer.node');
  try {
    cached = require(file) as Addon;
  } catch (err) {
    throw new TracerError(
      'HT_ERR_ADDON_LOAD',
      `cannot load the native addon ${file}: ${(err as Error).message}\n` +
        'Build it with "bash scripts/setup.sh" (or "npm run build" when clang, libbpf-dev and bpftool are installed).',
      { cause: err },
    );
  }
  return cached;
}
