import { expect, it } from 'vitest';
import { isTagwallError } from '../../src/core/errors.js';
import type { KeyValueStore } from '../../src/state/store.js';

/**
 * What every KeyValueStore must do, run against each real backend. `fresh` gives a store
 * with nothing in it, so tests do not see each other's keys.
 */
export function storeContract(fresh: () => Promise<KeyValueStore>, options: { racing: boolean }): void {
  const expectConflict = async (p: Promise<unknown>): Promise<void> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isTagwallError(e, 'STATE_CONFLICT'), `expected STATE_CONFLICT, got ${String(e)}`).toBe(true);
  };

  it('lists the keys under a prefix with the ETags a read gives, when the store lists at all', async (ctx) => {
    const store = await fresh();
    if (store.list === undefined) return ctx.skip();
    expect([...(await store.list('alerts/'))]).toEqual([]);
    const a = await store.put('alerts/sub/rg/a.json', '{"a":1}');
    const b = await store.put('alerts/targets/sub/rg/b.json', '{"b":1}');
    await store.put('vaults/sub/rg/a.json', '{"v":1}');
    await store.put('alertsx.json', '{}');
    const listed = await store.list('alerts/');
    expect(new Map(listed)).toEqual(new Map([['alerts/sub/rg/a.json', a], ['alerts/targets/sub/rg/b.json', b]]));
    expect(listed.get('alerts/sub/rg/a.json')).toBe((await store.get('alerts/sub/rg/a.json'))?.etag);
  });

  it('returns undefined for a key never written', async () => {
    const store = await fresh();
    expect(await store.get('vaults/none.json')).toBeUndefined();
  });

  it.each([
    ['canonical JSON', '{"version":1,"ownedRules":["20.1.2.0/24"]}'],
    ['JSON with whitespace', '{ "a": 1,\n  "b": [1, 2] }\n'],
    ['a JSON string literal', '"just text"'],
    ['plain text with non-ASCII', 'Grüße – 東京 🚀\r\nsecond line'],
    ['the empty string', ''],
  ])('round-trips %s exactly, with the ETag put returned', async (_label, text) => {
    const store = await fresh();
    const etag = await store.put('vaults/sub/rg/kv.json', text);
    const got = await store.get('vaults/sub/rg/kv.json');
    expect(got).toEqual({ text, etag });
  });

  it('writes with the current ETag and refuses a stale one, leaving the newer value', async () => {
    const store = await fresh();
    const first = await store.put('k.json', '{"n":1}');
    const second = await store.put('k.json', '{"n":2}', { ifMatch: first });
    expect(second).not.toBe(first);
    await expectConflict(store.put('k.json', '{"n":3}', { ifMatch: first }));
    expect(await store.get('k.json')).toEqual({ text: '{"n":2}', etag: second });
  });

  it('refuses ifMatch on a key that does not exist', async () => {
    const store = await fresh();
    const etag = await store.put('a.json', '{"a":1}');
    await expectConflict(store.put('b.json', '{"b":1}', { ifMatch: etag }));
    expect(await store.get('b.json')).toBeUndefined();
  });

  it('writes with ifNoneExists only while the key is absent', async () => {
    const store = await fresh();
    const etag = await store.put('once.json', '{"first":true}', { ifNoneExists: true });
    await expectConflict(store.put('once.json', '{"first":false}', { ifNoneExists: true }));
    expect(await store.get('once.json')).toEqual({ text: '{"first":true}', etag });
  });

  it('keeps ETags per key: writing one key does not invalidate another', async () => {
    const store = await fresh();
    const a = await store.put('a.json', '{"a":1}');
    await store.put('b.json', '{"b":1}');
    await store.put('b.json', '{"b":2}');
    const again = await store.put('a.json', '{"a":2}', { ifMatch: a });
    expect((await store.get('a.json'))?.etag).toBe(again);
  });

  it('deletes with the current ETag; a conditional delete with a stale ETag fails and deletes nothing', async (ctx) => {
    const store = await fresh();
    if (store.delete === undefined) return ctx.skip();
    const first = await store.put('vaults/sub/rg/d.json', '{"n":1}');
    // Another run writes the record after this caller read it.
    const second = await store.put('vaults/sub/rg/d.json', '{"n":2}', { ifMatch: first });
    await expectConflict(store.delete('vaults/sub/rg/d.json', { ifMatch: first }));
    expect(await store.get('vaults/sub/rg/d.json')).toEqual({ text: '{"n":2}', etag: second });
    await store.delete('vaults/sub/rg/d.json', { ifMatch: second });
    expect(await store.get('vaults/sub/rg/d.json')).toBeUndefined();
    // Nothing stored: nothing to lose, so not an error.
    await store.delete('vaults/sub/rg/d.json', { ifMatch: second });
    expect(await store.get('vaults/sub/rg/d.json')).toBeUndefined();
  });

  if (options.racing) {
    it('lets exactly one of a conditional delete and a conditional write holding the same ETag win', async (ctx) => {
      const store = await fresh();
      if (store.delete === undefined) return ctx.skip();
      for (let round = 0; round < 5; round++) {
        const etag = await store.put('raced.json', `{"round":${round}}`);
        const [written, deleted] = await Promise.allSettled([store.put('raced.json', `{"written":${round}}`, { ifMatch: etag }), store.delete('raced.json', { ifMatch: etag })]);
        expect([deleted.status, written.status].filter((s) => s === 'fulfilled'), `round ${round}`).toHaveLength(1);
        const loser = deleted.status === 'rejected' ? deleted.reason : written.status === 'rejected' ? written.reason : undefined;
        expect(isTagwallError(loser, 'STATE_CONFLICT'), String(loser)).toBe(true);
        const now = await store.get('raced.json');
        if (written.status === 'fulfilled') expect(now).toEqual({ text: `{"written":${round}}`, etag: written.value });
        else expect(now).toBeUndefined();
      }
    });

    it('lets exactly one of two writers holding the same ETag win', async () => {
      const store = await fresh();
      const etag = await store.put('race.json', '{"writer":"none"}');
      const results = await Promise.allSettled([
        store.put('race.json', '{"writer":"a"}', { ifMatch: etag }),
        store.put('race.json', '{"writer":"b"}', { ifMatch: etag }),
      ]);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, etag: r.value }] : []));
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(isTagwallError(lost[0]?.reason, 'STATE_CONFLICT')).toBe(true);
      const winner = won[0] as { i: number; etag: string };
      expect(await store.get('race.json')).toEqual({ text: `{"writer":"${winner.i === 0 ? 'a' : 'b'}"}`, etag: winner.etag });
    });

    it('lets exactly one of many first writers create a key', async () => {
      const store = await fresh();
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => store.put('first.json', `{"writer":${i}}`, { ifNoneExists: true })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(isTagwallError(r.reason, 'STATE_CONFLICT')).toBe(true);
    });
  }
}
