/**
 * A duration as people write one on the command line and in app settings (`90s`, `30m`, `24h`,
 * `2d`; a bare number is seconds) in milliseconds. One reading for `--deadline`, `apply --max-age`,
 * `allow --for` and `TAGWALL_PLAN_MAX_AGE`, so a value one of them takes, the others take too.
 * undefined when it is not a positive whole number of one of those units; `unitRequired` refuses a
 * bare number where a reader could take it for minutes or hours (`allow --for 2`).
 */
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function parseDuration(text: string, options: { readonly unitRequired?: boolean } = {}): number | undefined {
  const m = /^(\d{1,9})([smhd])?$/.exec(text.trim());
  if (m === null || Number(m[1]) === 0) return undefined;
  if (m[2] === undefined && options.unitRequired === true) return undefined;
  return Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS];
}
