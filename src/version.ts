import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** tagwall's own version, from package.json, whether run from src/ (tests) or dist/src/. */
export function tagwallVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tagwall' && pkg.version !== undefined) return (cached = pkg.version);
    } catch {
      // not here; look one folder up
    }
    dir = dirname(dir);
  }
  return (cached = '0.0.0');
}

/** The package root (holds package.json and src/data), for the bundled snapshot. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'tagwall') return dir;
    } catch {
      // keep looking
    }
    dir = dirname(dir);
  }
  throw new Error('cannot find the tagwall package root');
}

export function bundledServiceTagsPath(): string {
  return join(packageRoot(), 'src', 'data', 'ServiceTags_Public_20251013.json.gz');
}
