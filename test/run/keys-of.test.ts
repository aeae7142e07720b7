import { describe, expect, it, vi } from 'vitest';

// Counts the rule normalisations keysOf asks for; the real normaliseRule does the work.
const calls = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../src/core/rules.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/core/rules.js')>();
  return { ...real, normaliseRule: (...args: Parameters<typeof real.normaliseRule>) => (calls.n++, real.normaliseRule(...args)) };
});

const { keysOf, sameSet } = await import('../../src/run/steps/record.js');

describe('keysOf', () => {
  const rules = ['20.38.0.0/17', '20.38.0.1/17', '10.0.0.0/8', '10.0.0.0/8', '192.168.1.7', '192.168.1.7/32'];
  // Written out by hand: host bits cleared, a bare address as /32, duplicates once, sorted as text.
  const expected = ['10.0.0.0/8', '192.168.1.7/32', '20.38.0.0/17'];

  it('normalises, dedupes and sorts', () => {
    expect(keysOf(rules)).toEqual(expected);
    expect(sameSet(rules, expected)).toBe(true);
    expect(sameSet(rules, expected.slice(1))).toBe(false);
  });

  it('normalises a list once however often a pass asks for its keys', () => {
    const list = Array.from({ length: 300 }, (_, i) => `20.${i % 250}.${(i * 7) % 250}.0/24`);
    calls.n = 0;
    const first = keysOf(list);
    expect(calls.n).toBe(300);
    expect(keysOf(list)).toEqual(first);
    expect(sameSet(list, first)).toBe(true);
    // The old keysOf normalised the 300 rules on each of these calls (900 in all).
    expect(calls.n).toBe(300);
  });

  it('hands each caller its own array: changing one does not change the next answer', () => {
    const list = ['20.38.0.0/17', '10.0.0.0/8'];
    const a = keysOf(list);
    a.push('1.2.3.4/32');
    a.sort();
    expect(keysOf(list)).toEqual(['10.0.0.0/8', '20.38.0.0/17']);
    // A different list with the same rules is worked out on its own.
    expect(keysOf([...list])).toEqual(['10.0.0.0/8', '20.38.0.0/17']);
  });
});
