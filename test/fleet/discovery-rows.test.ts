import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readRow, shrinkGuard } from '../../src/fleet/discovery.js';
import { TagwallError } from '../../src/core/errors.js';

const ID = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-a';
const BASE = { id: ID, type: 'microsoft.keyvault/vaults', subscriptionId: '00000000-0000-0000-0000-000000000001' };

/** Every combination of the given values for each key; `undefined` means the column is absent. */
function grid(axes: Record<string, readonly unknown[]>): Record<string, unknown>[] {
  return Object.entries(axes).reduce<Record<string, unknown>[]>(
    (rows, [key, values]) => rows.flatMap((row) => values.map((v) => (v === undefined ? { ...row } : { ...row, [key]: v }))),
    [{}],
  );
}

describe('readRow fingerprints', () => {
  // Values beside the realistic ones that a plain join of the columns with '|' would confuse:
  // defaultAction 'A|B' with bypass 'C' against defaultAction 'A' with bypass 'B|C'.
  const axes = {
    digest: [undefined, '', 'd1', 'd2'],
    ruleCount: [undefined, 0, 7, '7'],
    defaultAction: [undefined, '', 'Deny', 'A', 'A|B'],
    bypass: [undefined, 'AzureServices', 'C', 'B|C', 'B\\|C'],
    publicNetworkAccess: [undefined, 'Enabled', ''],
  };

  /**
   * What the fingerprint must tell apart, said independently of readRow: an empty string is
   * Resource Graph's way of saying nothing, a ruleCount that is not a number is no count.
   */
  const meaning = (row: Record<string, unknown>) => {
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
    return JSON.stringify([str(row.digest), typeof row.ruleCount === 'number' ? row.ruleCount : null, str(row.defaultAction), str(row.bypass), str(row.publicNetworkAccess)]);
  };

  it('are equal exactly when digest, rule count and posture are, over every pair of a grid', () => {
    const rows = grid(axes);
    expect(rows).toHaveLength(4 * 4 * 5 * 5 * 3);
    const read = rows.map((r) => ({ meaning: meaning(r), fingerprint: readRow({ ...BASE, ...r }).fingerprint }));
    const wrong: string[] = [];
    for (let i = 0; i < read.length; i++) {
      for (let j = i + 1; j < read.length; j++) {
        const a = read[i]!;
        const b = read[j]!;
        if ((a.fingerprint === b.fingerprint) !== (a.meaning === b.meaning)) wrong.push(`${a.meaning} / ${b.meaning}`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('ignore what does not describe the firewall: the profile, and the ID in another case', () => {
    const a = readRow({ ...BASE, digest: 'd1', profile: 'devops' });
    const b = readRow({ ...BASE, id: ID.toUpperCase(), digest: 'd1', profile: 'data' });
    expect(a.fingerprint).toBe(b.fingerprint);
  });

  it('in rules mode change with the rules, and read the same rule the same in any of its shapes', () => {
    const of = (rules: unknown[]) => readRow({ ...BASE, ruleCount: rules.length, defaultAction: 'Deny', rules });
    expect(of(['20.1.2.3', '20.1.2.0/24']).fingerprint).not.toBe(of(['20.1.2.4', '20.1.2.0/24']).fingerprint);
    expect(of(['20.1.2.3']).fingerprint).not.toBe(of(['20.1.2.3', '20.1.2.4']).fingerprint);
    // Key Vault and Storage write {value}, Cosmos DB {ipAddressOrRange} (each kind's graphPaths.ruleValue); the rule is the same.
    const cosmos = readRow({ ...BASE, type: 'microsoft.documentdb/databaseaccounts', ruleCount: 2, defaultAction: 'Deny', rules: [{ ipAddressOrRange: '20.1.2.3' }, { ipAddressOrRange: '20.1.2.0/24' }] });
    const shapes = [of(['20.1.2.3', '20.1.2.0/24']), of([{ value: '20.1.2.3' }, { value: '20.1.2.0/24', action: 'Allow' }]), cosmos];
    for (const row of shapes) {
      expect(row.rules).toEqual(['20.1.2.3', '20.1.2.0/24']);
      expect(row.fingerprint).toBe(shapes[0]!.fingerprint);
    }
    // A rules-mode fingerprint is never a digest-mode one for the same firewall state.
    const digestOfRules = createHash('sha256').update(JSON.stringify(['20.1.2.3', '20.1.2.0/24'])).digest('hex');
    expect(readRow({ ...BASE, ruleCount: 2, defaultAction: 'Deny', digest: digestOfRules }).fingerprint).not.toBe(shapes[0]!.fingerprint);
    // No rules column and no digest at all is one state, distinct from an empty rule list.
    expect(readRow({ ...BASE }).fingerprint).not.toBe(of([]).fingerprint);
  });

  it('keep the row columns tagwall uses, the profile trimmed', () => {
    expect(readRow({ ...BASE, profile: ' DevOps ', defaultAction: 'Deny', bypass: '', ruleCount: 3, digest: 'd1', extra: 'ignored' })).toEqual({
      ...BASE,
      profile: 'DevOps',
      defaultAction: 'Deny',
      ruleCount: 3,
      digest: 'd1',
      fingerprint: expect.any(String),
    });
    expect(readRow({ ...BASE }).profile).toBe('');
  });
});

describe('readRow refuses', () => {
  it('a row without id, type or subscriptionId, as GRAPH_FAILED', () => {
    for (const key of ['id', 'type', 'subscriptionId'] as const) {
      for (const value of [undefined, '', 42, null]) {
        const row: Record<string, unknown> = { ...BASE, digest: 'd1' };
        if (value === undefined) delete row[key];
        else row[key] = value;
        let error: unknown;
        try {
          readRow(row);
        } catch (e) {
          error = e;
        }
        expect(error, `${key}=${String(value)}`).toBeInstanceOf(TagwallError);
        expect((error as TagwallError).code).toBe('GRAPH_FAILED');
      }
    }
  });
});

describe('shrinkGuard', () => {
  const shrank = (discovered: number, last: number | undefined, min: number) => shrinkGuard(discovered, last, min) !== undefined;

  it.each([
    // discovered, last run, minDiscovered, stops removals
    [0, undefined, 1, true],
    [1, undefined, 1, false],
    [0, undefined, 0, false],
    [2, 10, 3, true],
    [4, 10, 1, true],
    [5, 10, 1, false],
    [5, 11, 1, true],
    [6, 11, 1, false],
    [10, undefined, 1, false],
    [0, 0, 0, false],
    [30, 10, 1, false],
  ] as const)('found %i, last %s, at least %i: %s', (discovered, last, min, expected) => {
    expect(shrank(discovered, last, min)).toBe(expected);
  });

  it('stops removals exactly below minDiscovered or below half the last run, over every small case', () => {
    for (let discovered = 0; discovered <= 8; discovered++) {
      for (const last of [undefined, 0, 1, 2, 3, 4, 5, 8, 9, 15, 16, 17]) {
        for (let min = 0; min <= 4; min++) {
          expect(shrank(discovered, last, min), `${discovered} ${last} ${min}`).toBe(discovered < min || (last !== undefined && discovered * 2 < last));
        }
      }
    }
  });

  it('says which bound it was, as a critical DISCOVERY_SHRANK', () => {
    expect(shrinkGuard(0, 40, 1)).toMatchObject({ code: 'DISCOVERY_SHRANK', severity: 'critical', discovered: 0, minDiscovered: 1, message: expect.stringMatching(/guards\.minDiscovered \(1\)/) });
    expect(shrinkGuard(19, 40, 1)).toMatchObject({ code: 'DISCOVERY_SHRANK', severity: 'critical', discovered: 19, lastRun: 40, message: expect.stringMatching(/half of the last run's 40.*--force/) });
  });
});
