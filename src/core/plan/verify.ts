import type { Posture } from './model.js';

/**
 * A write of the whole object (an Event Hubs or Service Bus rule set's PUT) sends back every
 * field as tagwall read it, so a person's change made meanwhile is either undone by it or lands
 * after it. Neither has an ETag to detect it before writing; what can be done is to compare the
 * read after the write with what was written, and say so instead of recording it silently.
 */

/** What a write sends besides the IP rules: the posture as read (Deny when asked), and the VNet rules as read. */
export interface WrittenShape {
  readonly posture: Posture;
  readonly virtualNetworkRuleCount: number;
}

export interface ConcurrentDifference {
  readonly field: keyof Posture | 'virtualNetworkRuleCount';
  readonly written: string | number | null;
  readonly read: string | number | null;
}

const POSTURE_FIELDS: readonly (keyof Posture)[] = ['defaultAction', 'bypass', 'publicNetworkAccess'];

/** What the write sent, as far as a read can show it. */
export function writtenShape(before: WrittenShape, setDefaultActionDeny: boolean): WrittenShape {
  return {
    posture: { ...before.posture, ...(setDefaultActionDeny ? { defaultAction: 'Deny' } : {}) },
    virtualNetworkRuleCount: before.virtualNetworkRuleCount,
  };
}

/** Fields that differ between what was written and what was read after it (ARM's enum values are case-insensitive). */
export function concurrentDifferences(written: WrittenShape, after: WrittenShape): ConcurrentDifference[] {
  const out: ConcurrentDifference[] = [];
  for (const field of POSTURE_FIELDS) {
    const w = written.posture[field];
    const r = after.posture[field];
    // A field the firewall did not have when read was not sent: Azure fills in its default
    // (a vault created without networkAcls reads back Allow and AzureServices), which is no one's change.
    if (w === undefined) continue;
    if ((w ?? '').toLowerCase() !== (r ?? '').toLowerCase()) out.push({ field, written: w ?? null, read: r ?? null });
  }
  if (written.virtualNetworkRuleCount !== after.virtualNetworkRuleCount) {
    out.push({ field: 'virtualNetworkRuleCount', written: written.virtualNetworkRuleCount, read: after.virtualNetworkRuleCount });
  }
  return out;
}

/** The failed outcome's error for a concurrent change, or undefined when the read agrees. */
export function concurrentChangeError(written: WrittenShape, after: WrittenShape): { code: 'CONCURRENT_CHANGE'; message: string; fields: string } | undefined {
  const diffs = concurrentDifferences(written, after);
  if (diffs.length === 0) return undefined;
  const what = diffs.map((d) => `${d.field} written ${d.written ?? 'unset'}, read ${d.read ?? 'unset'}`).join('; ');
  return {
    code: 'CONCURRENT_CHANGE',
    message: `the firewall read back after the write differs from what was written beyond its IP rules (${what}): someone changed it at the same time, and a write that resends every field may have undone their change; check it and run again`,
    fields: diffs.map((d) => d.field).join(','),
  };
}
