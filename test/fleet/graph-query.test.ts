import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fleetQuery, kqlString } from '../../src/fleet/graph-query.js';
import { TagwallError } from '../../src/core/errors.js';
import { FIREWALL_KINDS } from '../../src/targets/kinds.js';

/**
 * A KQL string literal read back the way KQL reads one: single quotes around it, a backslash
 * taking the next character literally. Returns the value and whatever follows the closing quote,
 * so a test can see that nothing escaped the literal.
 */
function readLiteral(text: string): { value: string; rest: string } {
  if (text[0] !== "'") throw new Error(`not a literal: ${text}`);
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      const next = text[i + 1];
      if (next !== '\\' && next !== "'") throw new Error(`an escape KQL would read differently: \\${next}`);
      value += next;
      i++;
    } else if (c === "'") return { value, rest: text.slice(i + 1) };
    else value += c;
  }
  throw new Error(`unterminated literal: ${text}`);
}

describe('kqlString', () => {
  it('quotes and escapes quote and backslash', () => {
    expect(kqlString('tagwall')).toBe("'tagwall'");
    expect(kqlString("it's")).toBe("'it\\'s'");
    expect(kqlString('a\\b')).toBe("'a\\\\b'");
    // A trailing backslash must not swallow the closing quote.
    expect(kqlString('end\\')).toBe("'end\\\\'");
    expect(kqlString("\\'")).toBe("'\\\\\\''");
    expect(kqlString('')).toBe("''");
  });

  it('reads back as the value and ends where it ends, for any text without a line break', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', "'", '\\', '"', ' ', '|', ')', 'é') }), (value) => {
        expect(readLiteral(kqlString(value))).toEqual({ value, rest: '' });
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a line break, which would end the query line', () => {
    for (const value of ['a\nb', 'a\rb', '\r\n', 'tag\n| take 1']) {
      expect(() => kqlString(value)).toThrow(TagwallError);
      expect(() => kqlString(value)).toThrow(/line break/);
    }
  });
});

describe('fleetQuery', () => {
  const TYPES = ['Microsoft.KeyVault/vaults', 'Microsoft.Storage/storageAccounts'];
  const lines = (q: string) => q.split('\n');

  it('asks for the lowercased types, the tag compared in any case, and a digest of the rules', () => {
    const q = lines(fleetQuery({ types: TYPES, tag: 'tagwall', digest: true }));
    expect(q[0]).toBe('resources');
    expect(q[1]).toBe("| where type in~ ('microsoft.keyvault/vaults', 'microsoft.storage/storageaccounts')");
    expect(q).toContain("| where tostring(tags[0]) =~ 'tagwall'");
    const project = q.find((l) => l.startsWith('| project '))!;
    expect(project).toMatch(/, digest = hash_sha256\(tostring\(rules\)\)$/);
    expect(project).toMatch(/^\| project id, type, subscriptionId, profile = tostring\(tags\[1\]\), /);
    for (const column of ['defaultAction = ', 'bypass = ', 'publicNetworkAccess = ', 'ruleCount = array_length(rules)']) expect(project).toContain(column);
    expect(q.at(-1)).toBe('| order by id asc');
    expect(q.some((l) => l.startsWith('| where id'))).toBe(false);
  });

  it('asks for the rules themselves without digests', () => {
    const q = lines(fleetQuery({ types: TYPES, tag: 'tagwall', digest: false }));
    const project = q.find((l) => l.startsWith('| project '))!;
    expect(project).toMatch(/, rules$/);
    expect(project).not.toContain('hash_sha256');
  });

  it('narrows to the given IDs, escaped, and not when the list is empty', () => {
    const ids = ["/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv-a", "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/o'brien"];
    const q = lines(fleetQuery({ types: TYPES, tag: 'tagwall', digest: true, ids }));
    const where = q.filter((l) => l.startsWith('| where id in~ ('));
    expect(where).toEqual([`| where id in~ ('${ids[0]}', '/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/o\\'brien')`]);
    // Before the tag expansion, so Resource Graph narrows first.
    expect(q.indexOf(where[0]!)).toBeLessThan(q.indexOf('| mv-expand bagexpansion=array tags'));
    expect(fleetQuery({ types: TYPES, tag: 'tagwall', digest: true, ids: [] })).toBe(fleetQuery({ types: TYPES, tag: 'tagwall', digest: true }));
  });

  it('keeps a tag name with quotes and backslashes inside its literal', () => {
    for (const tag of ["x' or 1==1 or '", "x\\' | take 1 //", "'", '\\']) {
      const where = lines(fleetQuery({ types: TYPES, tag, digest: true })).filter((l) => l.startsWith('| where tostring(tags[0]) =~ '));
      expect(where).toHaveLength(1);
      expect(readLiteral(where[0]!.slice('| where tostring(tags[0]) =~ '.length))).toEqual({ value: tag, rest: '' });
    }
    expect(() => fleetQuery({ types: TYPES, tag: 'tag\n| take 1', digest: true })).toThrow(/line break/);
  });

  it('reads a single kind at its own paths, bare', () => {
    const q = lines(fleetQuery({ types: ['Microsoft.DocumentDB/databaseAccounts'], tag: 'tagwall', digest: true }));
    expect(q).toContain('| extend rules = properties.ipRules');
    const project = q.find((l) => l.startsWith('| project '))!;
    // Cosmos DB has no defaultAction; its bypass is networkAclBypass.
    expect(project).toContain('defaultAction = tostring(dynamic(null))');
    expect(project).toContain('bypass = tostring(properties.networkAclBypass)');
    expect(project).toContain('publicNetworkAccess = tostring(properties.publicNetworkAccess)');
  });

  it('reads each kind of a mixed fleet only at its own paths, by a case on the type', () => {
    const q = lines(fleetQuery({ types: ['Microsoft.KeyVault/vaults', 'Microsoft.Storage/storageAccounts', 'Microsoft.ContainerRegistry/registries', 'Microsoft.EventHub/namespaces'], tag: 'tagwall', digest: true }));
    expect(q).toContain(
      "| extend rules = case(type in~ ('microsoft.keyvault/vaults', 'microsoft.storage/storageaccounts'), properties.networkAcls.ipRules, type in~ ('microsoft.containerregistry/registries'), properties.networkRuleSet.ipRules, dynamic(null))",
    );
    const project = q.find((l) => l.startsWith('| project '))!;
    expect(project).toContain(
      "bypass = tostring(case(type in~ ('microsoft.keyvault/vaults', 'microsoft.storage/storageaccounts'), properties.networkAcls.bypass, type in~ ('microsoft.containerregistry/registries'), properties.networkRuleBypassOptions, dynamic(null)))",
    );
    // Every kind keeps publicNetworkAccess at one path, but Event Hubs is not read from its row: still a case.
    expect(project).toContain("publicNetworkAccess = tostring(case(type in~ ('microsoft.keyvault/vaults', 'microsoft.storage/storageaccounts', 'microsoft.containerregistry/registries'), properties.publicNetworkAccess, dynamic(null)))");
  });

  it('has paths for exactly the kinds whose rules Resource Graph describes', () => {
    for (const kind of FIREWALL_KINDS) {
      expect(kind.graphPaths !== undefined, kind.kind).toBe(kind.graph === 'rules');
      if (kind.graphPaths !== undefined) expect(kind.graphPaths.rules, kind.kind).toMatch(/^properties(\.[A-Za-z]+)+$/);
    }
  });

  it('refuses no types at all', () => {
    expect(() => fleetQuery({ types: [], tag: 'tagwall', digest: true })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
