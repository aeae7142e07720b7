import { describe, expect, it } from 'vitest';
import { createProgressLine, formatProgress } from '../../src/sources/progress.js';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, writes, write: (s: string) => (writes.push(s), true) };
}

describe('the download progress line', () => {
  it('writes nothing when the stream is not a terminal', () => {
    const s = stream(false);
    const line = createProgressLine(s, 'ServiceTags_Public');
    line.update(1_000_000, 4_000_000);
    line.done();
    expect(s.writes).toEqual([]);
  });

  it('redraws one line in place, at most once per interval, and always at the end', () => {
    const s = stream(true);
    let t = 0;
    const line = createProgressLine(s, 'Public', { minIntervalMs: 100, clock: () => t });
    line.update(65_536, 4_106_571);
    t = 50;
    line.update(131_072, 4_106_571); // too soon
    t = 150;
    line.update(2_053_286, 4_106_571);
    t = 160;
    line.update(4_106_571, 4_106_571); // finished: drawn despite the interval
    line.done();
    expect(s.writes).toEqual([
      '\r\x1b[2KPublic 0.1 MB / 4.1 MB (1%)',
      '\r\x1b[2KPublic 2.1 MB / 4.1 MB (50%)',
      '\r\x1b[2KPublic 4.1 MB / 4.1 MB (100%)',
      '\r\x1b[2K',
    ]);
    expect(s.writes.every((w) => !w.includes('\n'))).toBe(true);
  });

  it('shows bytes alone when the size is unknown', () => {
    expect(formatProgress('x', 2_500_000)).toBe('x 2.5 MB');
  });
});
