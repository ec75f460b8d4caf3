/**
 * package.json's engines.node promises no Node version that a production
 * dependency refuses: every version it admits is admitted by each of theirs
 * (package-lock.json records each package's engines).
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { packageRoot } from '../../src/package-root';

interface Semver {
  subset(sub: string, dom: string): boolean;
}
// semver (a dependency of node-gyp and fastify) ships no types: the one function used, typed above.
const semver = require('semver') as Semver;

interface LockPackage {
  version?: string;
  dev?: boolean;
  engines?: { node?: string } | string[];
}

const root = packageRoot(__dirname);
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };

function nodeRange(p: LockPackage): string | undefined {
  return p.engines && !Array.isArray(p.engines) ? p.engines.node : undefined;
}

/** The production packages whose engines.node admits less than `ours`, as "where@version: range". */
function refusing(ours: string): string[] {
  return Object.entries(lock.packages)
    .filter(([where, p]) => where !== '' && !p.dev)
    .filter(([, p]) => nodeRange(p) !== undefined && !semver.subset(ours, nodeRange(p)!))
    .map(([where, p]) => `${where}@${p.version}: ${nodeRange(p)}`);
}

t.test('engines.node is within every production dependency\'s engines.node', async (t) => {
  t.ok(Object.values(lock.packages).filter((p) => !p.dev).length > 50, 'package-lock.json lists the production packages');
  t.same(refusing(pkg.engines.node), [], `engines.node "${pkg.engines.node}"`);
});

t.test('the check can fail: the former ">=20" admits Node 20.0 and 21\'s pre-releases, which three dependencies refuse', async (t) => {
  t.same(refusing('>=20'), [
    'node_modules/better-sqlite3@12.11.1: 20.x || 22.x || 23.x || 24.x || 25.x || 26.x',
    'node_modules/jsep@1.6.0: >= 20.16.0',
    'node_modules/node-addon-api@8.9.2: ^18 || ^20 || >= 21',
  ]);
});
