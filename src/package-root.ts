import fs from 'node:fs';
import path from 'node:path';

/** The package's root: the nearest folder up from `from` with a package.json (works from src/, dist/ and dist-bench/). */
export function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
