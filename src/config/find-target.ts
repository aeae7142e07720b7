import type { TagwallConfig, TargetConfig } from './config.js';

/**
 * A configured target (explicit, in `targets`) as a person names it on the command line: its
 * resource ID or its name, in any case, a trailing slash ignored. A name that several targets share
 * names none of them (the ID must be given then). One reading for `tagwall allow --target` and the
 * state tools' `<id>`; each command says what else it takes and which code it answers with.
 */
export interface TargetLookup {
  /** The one target meant. */
  readonly found?: TargetConfig;
  /** Set instead when several targets have the name given. */
  readonly ambiguous?: readonly TargetConfig[];
}

export function findConfiguredTarget(config: TagwallConfig, given: string): TargetLookup {
  const wanted = given.trim().replace(/\/+$/, '').toLowerCase();
  const byId = config.targets.find((t) => t.resource.id.toLowerCase() === wanted);
  if (byId !== undefined) return { found: byId };
  // A resource name never holds a slash: an ID that matched nothing is no name either.
  if (wanted.includes('/')) return {};
  const byName = config.targets.filter((t) => t.resource.name.toLowerCase() === wanted);
  if (byName.length === 1) return { found: byName[0]! };
  return byName.length > 1 ? { ambiguous: byName } : {};
}

/** The configured targets, for an error's details: which IDs the command would have taken (the first 20). */
export function configuredDetails(targets: readonly TargetConfig[]): string[] {
  return targets.map((t) => `configured: ${t.resource.id}`).slice(0, 20);
}
