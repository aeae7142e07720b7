import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * tagwall's own version, from the package.json above this module. Walking up rather than
 * using a fixed relative path keeps it right both from `src/sources` (tests, tsx) and from
 * `dist/src/sources` (the built CLI and the Functions app).
 */
export function tagwallVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tagwall' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // no package.json at this level: keep climbing
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return (cached = '0.0.0-unknown');
}

export function tagwallUserAgent(): string {
  return `tagwall/${tagwallVersion()}`;
}
