import { createHash } from 'node:crypto';
import { RUN_SCOPE, type Alert, type AlertKind } from './types.js';

/**
 * The state scope an alert belongs to. ARM resource IDs are case-insensitive and may be
 * configured with a trailing slash, so vault scopes are compared in one canonical form;
 * otherwise renaming the case of a vault in config would resolve and re-fire everything.
 */
export function scopeOf(vault: string): string {
  const v = vault.trim();
  if (v === '' || v === RUN_SCOPE) return RUN_SCOPE;
  return v.replace(/\/+$/, '').toLowerCase();
}

export interface FingerprintInput {
  readonly vault: string;
  readonly kind: AlertKind;
  /** The rules concerned; order and duplicates do not matter. */
  readonly rules?: readonly string[];
  /**
   * What else distinguishes one problem from another of the same kind on the same vault:
   * 'removed' vs 'added' drift, the posture field that changed, the guard that fired.
   */
  readonly subject?: string;
}

/**
 * Identity of a problem across runs. The same vault, kind, subject and set of rules give
 * the same fingerprint however the rules are ordered; a different set of rules is a
 * different problem and alerts afresh. Titles and wording are deliberately left out, so
 * rephrasing a message never re-pages anyone.
 */
export function fingerprintOf(input: FingerprintInput): string {
  const rules = [...new Set((input.rules ?? []).map((r) => r.trim()))].sort();
  const canonical = JSON.stringify([scopeOf(input.vault), input.kind, input.subject ?? '', rules]);
  return `${input.kind}:${createHash('sha256').update(canonical).digest('hex').slice(0, 20)}`;
}

/** Builds an alert with its fingerprint filled in. */
export function createAlert(input: Omit<Alert, 'fingerprint'> & { readonly subject?: string }): Alert {
  const { subject, ...alert } = input;
  const fingerprint = fingerprintOf({ vault: alert.vault, kind: alert.kind, rules: alert.rules, subject });
  return { ...alert, fingerprint };
}
