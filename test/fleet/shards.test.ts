import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseConfig, profileTarget, type TargetConfig } from '../../src/config/config.js';
import { parseResourceId, resourceKey } from '../../src/core/resource-id.js';
import type { FleetGraph, GraphRow, ShardMessage } from '../../src/fleet/model.js';
import { MAX_MESSAGE_BYTES, parseShardMessage } from '../../src/fleet/queue.js';
import { shardsOf } from '../../src/run/shards.js';
import { kindOf } from '../../src/targets/kinds.js';

/** The limit run/shards.ts promises for a message's JSON, so base64's third still fits Storage's 64 KiB. */
const MAX_JSON = 45_000;
const RUN_ID = '5b0c3a4e-8f5d-4a4b-9e53-0c1d2e3f4a5b';
const DOCUMENT = 'ab'.repeat(32);

const SUBSCRIPTIONS = ['00000000-0000-0000-0000-000000000001', '0000000a-000b-000c-000d-00000000000e', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '12345678-90ab-cdef-1234-567890abcdef'];
const TYPES = ['Microsoft.KeyVault/vaults', 'Microsoft.Storage/storageAccounts', 'Microsoft.DocumentDB/databaseAccounts'];

interface Spec {
  readonly subscription: number;
  /** Upper-cased subscription in the ID: the same subscription, as Azure compares them. */
  readonly upper: boolean;
  readonly type: number;
  readonly group: string;
  readonly name: string;
  /** A discovered target carries its profile; an explicit one none. */
  readonly discovered: boolean;
  /** Absent: Resource Graph had no row for it. */
  readonly fingerprint?: string;
}

const token = (max: number) => fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split('')), minLength: 1, maxLength: max });

const spec: fc.Arbitrary<Spec> = fc.record(
  {
    subscription: fc.nat({ max: SUBSCRIPTIONS.length - 1 }),
    upper: fc.boolean(),
    type: fc.nat({ max: TYPES.length - 1 }),
    // Resource groups take 90 characters; long ones make long IDs.
    group: fc.oneof(token(8), token(90).map((g) => g.padEnd(90, 'g'))),
    name: token(24),
    discovered: fc.boolean(),
    // Up to the 1,024 the queue's schema takes.
    fingerprint: fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdef|'.split('')), minLength: 1, maxLength: 80 }), fc.nat({ max: 1024 }).map((n) => 'f'.repeat(Math.max(1, n)))),
  },
  { requiredKeys: ['subscription', 'upper', 'type', 'group', 'name', 'discovered'] },
);

const PROFILE = 'p'.repeat(63);

function idOf(s: Spec, index: number): string {
  const sub = s.upper ? SUBSCRIPTIONS[s.subscription]!.toUpperCase() : SUBSCRIPTIONS[s.subscription]!;
  // The index keeps names unique; one resource is one target.
  return `/subscriptions/${sub}/resourceGroups/${s.group}/providers/${TYPES[s.type]}/${s.name}${index}`;
}

/** The targets as a run has them: explicit ones through parseConfig, discovered ones through their profile. */
function fleetOf(specs: readonly Spec[]): { targets: TargetConfig[]; graph: FleetGraph } {
  const ids = specs.map(idOf);
  const explicit = specs.flatMap((s, i) => (s.discovered ? [] : [{ resource: ids[i]!, select: ['AzureDevOps'] }]));
  const config = parseConfig(
    { serviceTags: { source: 'file', path: '/nowhere.json' }, discover: {}, profiles: { [PROFILE]: { select: ['AzureDevOps'] } }, targets: explicit },
    { baseDir: '/', source: 'test' },
  );
  const explicitByKey = new Map(config.targets.map((t) => [resourceKey(t.resource), t]));
  const targets = specs.map((s, i) => {
    if (!s.discovered) return explicitByKey.get(ids[i]!.toLowerCase())!;
    const resource = parseResourceId(ids[i]!);
    return profileTarget(config, PROFILE, resource, kindOf(resource));
  });
  const rows = new Map<string, GraphRow>();
  specs.forEach((s, i) => {
    if (s.fingerprint !== undefined) rows.set(ids[i]!.toLowerCase(), { id: ids[i]!, type: TYPES[s.type]!.toLowerCase(), subscriptionId: SUBSCRIPTIONS[s.subscription]!, profile: PROFILE, fingerprint: s.fingerprint });
  });
  return { targets, graph: { rows, recheckMs: 86_400_000, lagMs: 600_000 } };
}

function checkShards(specs: readonly Spec[], size: number, force: boolean, withGraph: boolean): ShardMessage[] {
  const { targets, graph } = fleetOf(specs);
  const shards = shardsOf(targets, size, RUN_ID, DOCUMENT, force, withGraph ? graph : undefined);
  expect(shards.map((s) => s.shard)).toEqual(shards.map((_, i) => i));
  const placed: string[] = [];
  for (const message of shards) {
    expect(message).toMatchObject({ version: 1, runId: RUN_ID, document: DOCUMENT });
    expect(message.force).toBe(force ? true : undefined);
    expect(message.targets.length).toBeGreaterThan(0);
    expect(message.targets.length).toBeLessThanOrEqual(size);
    expect(new Set(message.targets.map((t) => parseResourceId(t.id).subscriptionId.toLowerCase())).size).toBe(1);
    const json = JSON.stringify(message);
    expect(json.length).toBeLessThanOrEqual(MAX_JSON);
    expect(Buffer.from(json).toString('base64').length).toBeLessThan(MAX_MESSAGE_BYTES);
    // What the worker will accept off the queue.
    expect(parseShardMessage(json)).toEqual(message);
    placed.push(...message.targets.map((t) => t.id));
  }
  expect([...placed].sort()).toEqual(specs.map(idOf).sort());
  // Each entry as the target and the run's Resource Graph read described it.
  const bySpec = new Map(specs.map((s, i) => [idOf(s, i), s]));
  for (const entry of shards.flatMap((m) => m.targets)) {
    const s = bySpec.get(entry.id)!;
    expect(entry.profile).toBe(s.discovered ? PROFILE : undefined);
    expect(entry.fingerprint).toBe(withGraph ? s.fingerprint : undefined);
  }
  return shards;
}

describe('shardsOf', () => {
  it('places every target once, one subscription a shard, within the size and the message limit', () => {
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 400 }), fc.integer({ min: 1, max: 500 }), fc.boolean(), fc.boolean(), (specs, size, force, withGraph) => {
        checkShards(specs, size, force, withGraph);
      }),
      { numRuns: 60 },
    );
  });

  it('fills messages to the limit with the longest IDs, whatever the fingerprints\' length', () => {
    // 500 long entries in one subscription: the size allows one shard, the bytes do not. Where the
    // last entry lands against the limit depends on the entry's length, so every length near the top.
    for (let length = 960; length <= 1024; length++) {
      const specs: Spec[] = Array.from({ length: 500 }, () => ({ subscription: 0, upper: false, type: 1, group: 'g'.repeat(90), name: 'n'.repeat(24), discovered: true, fingerprint: 'f'.repeat(length) }));
      const shards = checkShards(specs, 500, true, true);
      expect(shards.length).toBeGreaterThan(1);
      // Not split more than the bytes need: every message but the last is too full to take another
      // entry, give or take the room kept for a shard number of 16 digits.
      // One subscription, so the entry that did not fit is the next message's first.
      shards.slice(0, -1).forEach((m, i) => {
        const next = JSON.stringify(shards[i + 1]!.targets[0]).length + 1;
        expect(JSON.stringify(m).length + next).toBeGreaterThan(MAX_JSON - 16);
      });
    }
  });

  it('keeps the shard size, and a subscription in any case together', () => {
    const specs: Spec[] = Array.from({ length: 7 }, (_, i) => ({ subscription: i % 2, upper: i % 3 === 0, type: 0, group: 'rg', name: 'kv', discovered: false }));
    const shards = checkShards(specs, 2, false, false);
    // Four in the first subscription, three in the second: 2+2 and 2+1.
    expect(shards.map((m) => m.targets.length)).toEqual([2, 2, 2, 1]);
    expect(shardsOf([], 50, RUN_ID, DOCUMENT, false)).toEqual([]);
  });
});
