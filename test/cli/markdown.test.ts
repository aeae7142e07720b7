import { describe, expect, it } from 'vitest';
import { GITHUB_COMMENT_LIMIT, renderRunMarkdown } from '../../src/cli/markdown.js';
import type { TargetReport } from '../../src/core/report.js';
import type { RunReport } from '../../src/run/report.js';

// The Markdown summary for a pull-request comment: its shape written out by hand, and GitHub's
// 65,536-character limit on a comment.

function target(name: string, outcome: TargetReport['outcome'], extra: Partial<TargetReport> = {}): TargetReport {
  return {
    vault: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/${name}`,
    kind: 'keyvault',
    outcome,
    add: [],
    remove: [],
    unmanaged: [],
    shared: [],
    adopted: [],
    rules: { managed: 0, unmanaged: 0, shared: 0, limit: 1000 },
    excessAddresses: 0,
    drift: [],
    findings: [],
    reasons: [],
    mode: 'merge',
    ...extra,
  };
}

function run(vaults: TargetReport[]): RunReport {
  return { dryRun: false, runId: 'r', serviceTags: { cloud: 'Public', changeNumber: 42, cacheUsed: false, warnings: [] }, vaults };
}

describe('renderRunMarkdown', () => {
  it('a row per target (problems first), findings once, details folded', () => {
    const md = renderRunMarkdown(
      run([
        target('kv-ok', 'in-sync', { rules: { managed: 3, unmanaged: 1, shared: 0, limit: 1000 } }),
        target('kv-new', 'applied', { add: ['10.0.0.0/24', '10.0.1.0/24'], rules: { managed: 2, unmanaged: 0, shared: 0, limit: 1000 }, findings: [{ code: 'WIDE_RULE', severity: 'warning', message: 'a | wide rule' }] }),
        target('kv-bad', 'failed', { error: { code: 'VAULT_FORBIDDEN', message: 'no write permission' } }),
      ]),
    );
    expect(md).toBe(
      [
        '### tagwall sync: 3 targets, 1 failed, 1 applied, 1 in-sync',
        '',
        'Service tags: Public, change 42',
        '',
        '| kind | target | outcome | adds | removes | rules used/limit | codes |',
        '| --- | --- | --- | ---: | ---: | ---: | --- |',
        '| keyvault | `kv-bad` | failed | 0 | 0 | 0/1000 | `VAULT_FORBIDDEN` |',
        '| keyvault | `kv-new` | applied | 2 | 0 | 2/1000 | - |',
        '| keyvault | `kv-ok` | in-sync | 0 | 0 | 4/1000 | - |',
        '',
        '#### Findings',
        '',
        '- **warning** `WIDE_RULE` on `kv-new`: a \\| wide rule',
        '',
        '<details><summary><code>kv-bad</code>: failed</summary>',
        '',
        '`/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-bad`',
        '',
        '- error `VAULT_FORBIDDEN`: no write permission',
        '',
        '</details>',
        '',
        '<details><summary><code>kv-new</code>: 2 added</summary>',
        '',
        '`/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-new`',
        '',
        'added:',
        '```',
        '10.0.0.0/24',
        '10.0.1.0/24',
        '```',
        '',
        '</details>',
      ].join('\n'),
    );
  });

  it('a fleet too big for one comment is cut to fit, failures kept, with a note on what was left out', () => {
    const rules = Array.from({ length: 900 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const vaults = [
      ...Array.from({ length: 2_000 }, (_, i) => target(`kv-${String(i).padStart(4, '0')}`, 'pending', { add: rules })),
      target('kv-broken', 'failed', { error: { code: 'VAULT_FORBIDDEN', message: 'no' } }),
    ];
    const md = renderRunMarkdown(run(vaults));
    expect(md.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(md.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT - 2_000);
    // The failed target is the first row, though it came last.
    expect(md.split('\n')[6]).toBe('| keyvault | `kv-broken` | failed | 0 | 0 | 0/1000 | `VAULT_FORBIDDEN` |');
    const shownRows = md.split('\n').filter((l) => /^\| keyvault \| `kv-\d{4}`/.test(l)).length;
    expect(shownRows).toBeGreaterThan(100);
    expect(shownRows).toBeLessThan(2_000);
    expect(md.split('\n').at(-1)).toBe(`> Truncated to fit a GitHub comment (65536 characters): ${2_000 - shownRows} targets of the table, 2001 target details not shown. The whole report: \`--json\`.`);
  });

  it('a small limit leaves out details before rows', () => {
    const md = renderRunMarkdown(run([target('kv-a', 'pending', { add: Array.from({ length: 200 }, (_, i) => `10.0.${i}.0/24`) })]), { limit: 2_000 });
    expect(md).toContain('| keyvault | `kv-a` | pending | 200 | 0 | 0/1000 | - |');
    expect(md).not.toContain('<details>');
    expect(md).toMatch(/1 target details not shown/);
    expect(md.length).toBeLessThanOrEqual(2_000);
  });
});
