import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The nearest tagwall package root at or above `dir`, with its version. Walking up rather
 * than using a fixed relative path keeps it right both from `src/` (tests) and from
 * `dist/src/` (the built CLI and the Functions app).
 */
function findPackage(dir: string): { root: string; version: string } | undefined {
  for (let depth = 0; depth < 8; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tagwall' && typeof pkg.version === 'string') return { root: dir, version: pkg.version };
    } catch {
      // no package.json at this level: keep climbing
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

export function findPackageVersion(dir: string): string | undefined {
  return findPackage(dir)?.version;
}

let cached: { root: string; version: string } | undefined;

function own(): { root: string; version: string } {
  cached ??= findPackage(dirname(fileURLToPath(import.meta.url))) ?? { root: process.cwd(), version: '0.0.0-unknown' };
  return cached;
}

export function tagwallVersion(): string {
  return own().version;
}

/** Sent on every request, so Microsoft (or a mirror's owner) can tell who is calling. */
export function tagwallUserAgent(): string {
  return `tagwall/${tagwallVersion()}`;
}

/** The package root (holds package.json and src/data). */
export function packageRoot(): string {
  return own().root;
}

/** The real Public snapshot bundled for `npm start` and the tests. */
export function bundledServiceTagsPath(): string {
  return join(packageRoot(), 'src', 'data', 'ServiceTags_Public_20251013.json.gz');
}
