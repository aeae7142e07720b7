import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { TagwallError } from '../../src/core/errors.js';
import { parseGrantDuration, parseUntil } from '../../src/core/temporary.js';

// Temporary entries in the configuration: `extra` takes {"cidr", "until", "note"} beside plain
// CIDRs, in targets and profiles, checked as the plain ones are, with `until` a real date.

const vault = (name: string) => `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/${name}`;
const parse = (extra: unknown[], profiles?: Record<string, unknown>) =>
  parseConfig({ targets: [{ vault: vault('kv-one'), select: ['AzureDevOps'], extra }], ...(profiles === undefined ? {} : { profiles }) }, { baseDir: '/x', source: 'test' });

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TagwallError);
    expect((e as TagwallError).code).toBe('CONFIG_INVALID');
    return [...(e as TagwallError).details];
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('extra with an until', () => {
  it('keeps plain CIDRs as extras and dated ones beside them, normalised, a date alone ending with its day in UTC', () => {
    const t = parse(['81.2.69.142', { cidr: '145.14.56.7', until: '2026-12-31', note: 'contractor' }, { cidr: '145.14.57.0/24', until: '2026-06-01T18:00:00+02:00' }]).targets[0]!;
    expect(t.extra).toEqual(['81.2.69.142']);
    expect(t.temporary).toEqual([
      { cidr: '145.14.56.7/32', until: '2026-12-31', expiresAt: Date.parse('2027-01-01T00:00:00Z'), note: 'contractor', source: 'config' },
      { cidr: '145.14.57.0/24', until: '2026-06-01T18:00:00+02:00', expiresAt: Date.parse('2026-06-01T16:00:00Z'), source: 'config' },
    ]);
  });

  it('has no temporary field when every extra is plain (the settlement key of existing targets is unchanged)', () => {
    expect('temporary' in parse(['81.2.69.142']).targets[0]!).toBe(false);
  });

  it('takes a date in the past: the entry is simply expired (the run reports it)', () => {
    expect(parse([{ cidr: '145.14.56.7', until: '2001-01-01' }]).targets[0]!.temporary).toHaveLength(1);
  });

  it('refuses a bad date, a date without its offset, a bad CIDR, private space and host bits, each with its path', () => {
    const problems = problemsOf(() =>
      parse([
        { cidr: '145.14.56.7', until: '2026-02-30' },
        { cidr: '145.14.56.8', until: '2026-12-31T18:00:00' },
        { cidr: '145.14.56.9', until: 'next week' },
        { cidr: '10.1.2.3', until: '2026-12-31' },
        { cidr: '145.14.56.7/24', until: '2026-12-31' },
        { cidr: 'not-an-ip', until: '2026-12-31' },
        { cidr: '145.14.56.10', until: '2026-12-31T24:00:00Z' },
      ]),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^targets\[0\]\.extra\[0\]\.until: "2026-02-30" is not a real date$/),
      expect.stringMatching(/^targets\[0\]\.extra\[1\]\.until: .*with its offset/),
      expect.stringMatching(/^targets\[0\]\.extra\[2\]\.until: "next week" is not a date/),
      expect.stringMatching(/^targets\[0\]\.extra\[3\]\.cidr: .*10\.0\.0\.0\/8/),
      expect.stringMatching(/^targets\[0\]\.extra\[4\]\.cidr: .*host bits/i),
      expect.stringMatching(/^targets\[0\]\.extra\[5\]\.cidr: /),
      expect.stringMatching(/^targets\[0\]\.extra\[6\]\.until: .*not a real date and time/),
    ]);
  });

  it('refuses unknown keys and a missing until', () => {
    const problems = problemsOf(() => parse([{ cidr: '145.14.56.7', until: '2026-12-31', expires: 'x' }, { cidr: '145.14.56.8' }]));
    expect(problems.some((p) => p.startsWith('targets[0].extra[0]'))).toBe(true);
    expect(problems.some((p) => p.startsWith('targets[0].extra[1]'))).toBe(true);
  });

  it('is taken in profiles too, and checked there', () => {
    const ok = parseConfig(
      { discover: { tag: 'tagwall' }, profiles: { devops: { select: ['AzureDevOps'], extra: [{ cidr: '145.14.56.7', until: '2026-12-31' }] } } },
      { baseDir: '/x', source: 'test' },
    );
    expect(ok.profiles.get('devops')!.settings.extra).toEqual([{ cidr: '145.14.56.7', until: '2026-12-31' }]);
    expect(problemsOf(() => parseConfig({ discover: { tag: 'tagwall' }, profiles: { devops: { select: ['X'], extra: [{ cidr: '192.168.0.1', until: '2026-13-01' }] } } }, { baseDir: '/x', source: 'test' }))).toEqual([
      expect.stringMatching(/^profiles\.devops\.extra\[0\]\.cidr: .*192\.168\.0\.0\/16/),
      expect.stringMatching(/^profiles\.devops\.extra\[0\]\.until: "2026-13-01" is not a real date$/),
    ]);
  });
});

describe('parseUntil and parseGrantDuration', () => {
  it.each([
    ['2024-02-29', Date.parse('2024-03-01T00:00:00Z')],
    ['2026-12-31T23:59:59Z', Date.parse('2026-12-31T23:59:59Z')],
    ['2026-12-31T18:00Z', Date.parse('2026-12-31T18:00:00Z')],
  ])('%s ends at its instant', (text, at) => expect(parseUntil(text)).toEqual({ expiresAt: at }));

  it.each(['2025-02-29', '2026-00-10', '2026-04-31', '31/12/2026', ''])('%s is no date', (text) => expect(parseUntil(text)).toHaveProperty('problem'));

  it.each([
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['90s', 90_000],
  ])('--for %s', (text, ms) => expect(parseGrantDuration(text)).toBe(ms));

  it.each(['0m', '2', '1w', '-1h', 'h'])('--for %s is refused', (text) => expect(parseGrantDuration(text)).toBeUndefined());
});
