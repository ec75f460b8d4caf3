/** `http-tracer --version`: the package's version, from its package.json. */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-root';

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(__dirname), 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error('package.json has no version');
  return pkg.version;
}
