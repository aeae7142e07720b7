import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fleetQuery, subscriptionsQuery } from '../../src/fleet/graph-query.js';
import { FIREWALL_KINDS } from '../../src/targets/kinds.js';

/**
 * The Resource Graph queries tagwall sends, judged by Microsoft's own KQL parser and binder
 * (`@kusto/language-service-next`, the Kusto.Language library compiled to JavaScript), not only by
 * the emulator's evaluator, which tagwall wrote and which could share a misreading with the query.
 * The binder runs against the columns Resource Graph's `resources` and `resourcecontainers` tables
 * have (Microsoft's "Azure Resource Graph table and resource type reference"), so an unknown
 * function, a misspelt column or a type error is a diagnostic, as well as a syntax error.
 */

const require = createRequire(import.meta.url);
// The package sets up its runtime (Bridge) and Kusto.Language as globals when loaded.
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');

interface Diagnostic {
  readonly Severity: string;
  readonly Code: string;
  readonly Message: string;
  readonly Start: number;
}
/* eslint-disable @typescript-eslint/no-explicit-any */
const g = globalThis as any;
const language = g.Kusto.Language;
const symbols = language.Symbols;

// `kind` and `plan` are columns too, but keywords in a schema's text; tagwall reads neither.
const COLUMNS =
  '(id:string, name:string, type:string, tenantId:string, location:string, resourceGroup:string, subscriptionId:string, managedBy:string, sku:dynamic, properties:dynamic, tags:dynamic, identity:dynamic, zones:dynamic, extendedLocation:dynamic)';
const database = new symbols.DatabaseSymbol.ctor('resourcegraph', [
  symbols.TableSymbol.From(COLUMNS).WithName('resources'),
  symbols.TableSymbol.From(COLUMNS).WithName('resourcecontainers'),
]);
const globals = language.GlobalState.Default.WithDatabase(database);

function diagnostics(query: string): string[] {
  const code = language.KustoCode.ParseAndAnalyze(query, globals);
  return (g.Bridge.toArray(code.GetDiagnostics()) as Diagnostic[]).map((d) => `${d.Severity} ${d.Code} at ${d.Start}: ${d.Message}`);
}

const TYPES = FIREWALL_KINDS.filter((k) => k.graph !== undefined).map((k) => k.resourceType);

describe("Resource Graph queries, checked with Microsoft's KQL parser", () => {
  it('finds the faults it is here for (so a clean answer means something)', () => {
    expect(diagnostics("resources | where type in~ ('a' | project id")).not.toEqual([]);
    expect(diagnostics('resources | project id, d = hash_sha257(id)').join('\n')).toMatch(/hash_sha257/);
    expect(diagnostics('resource | project id').join('\n')).toMatch(/resource/);
    expect(diagnostics('resources | project id, n = array_length(idd)').join('\n')).toMatch(/idd/);
  });

  it('accepts the fleet query for each kind alone, for every kind together, with digests or rules, narrowed or not', () => {
    expect(TYPES.length).toBeGreaterThan(3);
    const sets = [...TYPES.map((t) => [t]), TYPES];
    for (const types of sets) {
      for (const digest of [true, false]) {
        for (const ids of [undefined, ['/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-a']]) {
          const query = fleetQuery({ types, tag: 'tagwall', digest, ...(ids === undefined ? {} : { ids }) });
          expect(diagnostics(query), `${types.join(',')} digest=${digest}\n${query}`).toEqual([]);
        }
      }
    }
  });

  it('accepts any subset of the kinds and any tag name, quotes and backslashes included', () => {
    fc.assert(
      fc.property(fc.subarray(TYPES, { minLength: 1 }), fc.string({ maxLength: 20 }).filter((s) => !/[\r\n]/.test(s)), fc.boolean(), (types, tag, digest) => {
        expect(diagnostics(fleetQuery({ types, tag, digest }))).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('accepts the subscriptions query', () => {
    expect(diagnostics(subscriptionsQuery())).toEqual([]);
  });
});
