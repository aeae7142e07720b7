import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `npx tagwall <command>` outside the checkout resolves "tagwall" from the public npm registry and
// runs whatever package holds the name. No documented command, and no hint the CLI prints, may
// tell anyone to run it that way.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function files(dir: string, ext: RegExp): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && ext.test(e.name)).map((e) => join(e.parentPath, e.name));
}

describe('documented commands never go through npx', () => {
  it('README, docs and the CLI\'s own hints run tagwall by its built path or npm exec --no', async () => {
    const paths = [join(ROOT, 'README.md'), ...(await files('docs', /\.md$/)), ...(await files('src', /\.ts$/))];
    const offenders: string[] = [];
    for (const path of paths) {
      const lines = (await readFile(path, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (/\bnpx\s+tagwall\s+[a-z-]/.test(line)) offenders.push(`${path.slice(ROOT.length)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
