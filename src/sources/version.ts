import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The version in the nearest tagwall package.json at or above `dir`. Walking up rather
 * than using a fixed relative path keeps it right both from `src/sources` (tests) and
 * from `dist/src/sources` (the built CLI and the Functions app).
 */
export function findPackageVersion(dir: string): string | undefined {
  for (let depth = 0; depth < 8; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tagwall' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json at this level: keep climbing
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

export function tagwallVersion(): string {
  cached ??= findPackageVersion(dirname(fileURLToPath(import.meta.url))) ?? '0.0.0-unknown';
  return cached;
}

/** Sent on every request, so Microsoft (or a mirror's owner) can tell who is calling. */
export function tagwallUserAgent(): string {
  return `tagwall/${tagwallVersion()}`;
}
