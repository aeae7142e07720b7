import { createHash } from 'node:crypto';

/**
 * A row's fingerprint: what Resource Graph says of a firewall's rules and posture, as one string.
 * Equal fingerprints mean Resource Graph saw no change. It is also read back into its columns, so
 * that a run holding only the fingerprint (a shard worker's message) can check that it describes
 * what a direct read found before it is recorded (see judge.ts).
 */
export interface RowState {
  /** The row's digest (hex), `rules:<sha256>` of the rule values when the row carried them, or `none`. */
  readonly ruleState: string;
  readonly ruleCount?: number;
  readonly defaultAction?: string;
  readonly bypass?: string;
  readonly publicNetworkAccess?: string;
}

/** How the rule values themselves are summed up when a row carries rules instead of a digest. */
export function rulesState(values: readonly string[]): string {
  return `rules:${createHash('sha256').update(JSON.stringify(values)).digest('hex')}`;
}

export function fingerprintOf(s: RowState): string {
  // A '|' or a backslash inside a column is escaped, so no two rows' columns join to the same text; a row
  // without either (every real one) keeps the fingerprint records already hold.
  const column = (v: string | number) => String(v).replace(/[\\|]/g, '\\$&');
  return [s.ruleState, s.ruleCount ?? '', s.defaultAction ?? '', s.bypass ?? '', s.publicNetworkAccess ?? ''].map(column).join('|');
}

/** The columns of a fingerprint fingerprintOf made; undefined for any other text. */
export function stateOfFingerprint(fingerprint: string): RowState | undefined {
  const columns: string[] = [''];
  for (let i = 0; i < fingerprint.length; i += 1) {
    const c = fingerprint[i]!;
    if (c === '\\') {
      const next = fingerprint[i + 1];
      if (next !== '\\' && next !== '|') return undefined;
      columns[columns.length - 1] += next;
      i += 1;
    } else if (c === '|') columns.push('');
    else columns[columns.length - 1] += c;
  }
  if (columns.length !== 5) return undefined;
  const [ruleState, count, defaultAction, bypass, publicNetworkAccess] = columns as [string, string, string, string, string];
  if (ruleState === '' || (count !== '' && !/^\d+$/.test(count))) return undefined;
  const text = (v: string) => (v === '' ? undefined : v);
  return {
    ruleState,
    ...(count === '' ? {} : { ruleCount: Number(count) }),
    ...(text(defaultAction) === undefined ? {} : { defaultAction }),
    ...(text(bypass) === undefined ? {} : { bypass }),
    ...(text(publicNetworkAccess) === undefined ? {} : { publicNetworkAccess }),
  };
}
