import { TagwallError } from './errors.js';
import type { ServiceTag, ServiceTagDocument } from './service-tags.js';

/**
 * Which tags a list of selectors picks:
 *  - `AzureDevOps`, `AzureCloud.WestEurope`: one tag, by name, ignoring case;
 *  - `Storage.*`, `*`: every tag whose name matches, `*` standing for any run of characters;
 *  - `LogicApps@westeurope`: the tags of one service in one region, by `properties.region`.
 *    The published names disagree with the region codes (`Storage.FranceCentral` is in
 *    `centralfrance`), so both spellings work; the mapping is read from the file itself.
 */

export interface Selection {
  /** Unique, in the file's order. */
  readonly tags: readonly ServiceTag[];
  readonly warnings: readonly string[];
}

/** Tags whose addresses every Azure customer shares. */
const SHARED_FAMILIES = new Set(['azurecloud']);

export function serviceOf(tagName: string): string {
  const dot = tagName.indexOf('.');
  return (dot === -1 ? tagName : tagName.slice(0, dot)).toLowerCase();
}

function suffixOf(tagName: string): string | undefined {
  const dot = tagName.indexOf('.');
  return dot === -1 ? undefined : tagName.slice(dot + 1).toLowerCase();
}

/** Splits `a,b` and trims; empty parts are refused so a stray comma is not silently ignored. */
export function splitSelectors(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const part of v.split(',')) {
      const s = part.trim();
      if (s === '') throw new TagwallError('SELECTOR_EMPTY', `empty selector in ${JSON.stringify(v)}`);
      out.push(s);
    }
  }
  return out;
}

function wildcard(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'i');
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

export function closest(wanted: string, candidates: Iterable<string>, count = 5): string[] {
  const w = wanted.toLowerCase();
  const scored: { name: string; score: number }[] = [];
  for (const c of candidates) {
    const l = c.toLowerCase();
    // A candidate that contains what was typed is a better hint than one a few edits away.
    const score = l.includes(w) || w.includes(l) ? Math.abs(l.length - w.length) / 100 : distance(w, l);
    scored.push({ name: c, score });
  }
  scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  const limit = Math.max(3, Math.ceil(w.length / 2));
  return scored.filter((s) => s.score <= limit).slice(0, count).map((s) => s.name);
}

/** Index of a document, built once per document and reused for every selector. */
export class TagIndex {
  readonly byName = new Map<string, ServiceTag>();
  /** Lowercase region spelling (as used in tag names) → region codes. */
  readonly regionAliases = new Map<string, Set<string>>();
  readonly regionCodes = new Set<string>();

  constructor(readonly document: ServiceTagDocument) {
    for (const t of document.tags) {
      this.byName.set(t.name.toLowerCase(), t);
      if (t.region === '') continue;
      const code = t.region.toLowerCase();
      this.regionCodes.add(code);
      const suffix = suffixOf(t.name);
      if (suffix !== undefined && suffix !== code && !suffix.includes('.')) {
        const set = this.regionAliases.get(suffix) ?? new Set<string>();
        set.add(code);
        this.regionAliases.set(suffix, set);
      }
    }
  }

  regionsFor(region: string): Set<string> {
    const r = region.toLowerCase();
    const out = new Set<string>(this.regionAliases.get(r) ?? []);
    if (this.regionCodes.has(r)) out.add(r);
    return out;
  }

  /** The tags one selector picks; empty when it matches nothing. */
  match(selector: string): ServiceTag[] {
    const at = selector.indexOf('@');
    if (at !== -1) {
      const service = selector.slice(0, at);
      const regions = this.regionsFor(selector.slice(at + 1));
      const servicePattern = wildcard(service);
      return this.document.tags.filter((t) => regions.has(t.region.toLowerCase()) && servicePattern.test(serviceOf(t.name)));
    }
    if (selector.includes('*')) {
      const pattern = wildcard(selector);
      return this.document.tags.filter((t) => pattern.test(t.name));
    }
    const tag = this.byName.get(selector.toLowerCase());
    return tag === undefined ? [] : [tag];
  }

  suggestionsFor(selector: string): string[] {
    const at = selector.indexOf('@');
    if (at === -1) return closest(selector.replace(/\*/g, ''), this.byName.size > 0 ? [...this.document.tags].map((t) => t.name) : []);
    const service = serviceOf(selector.slice(0, at));
    const forms = new Set<string>();
    for (const t of this.document.tags) {
      if (t.region === '') continue;
      if (serviceOf(t.name) === service) forms.add(`${t.name.split('.')[0]}@${t.region}`);
    }
    if (forms.size === 0) {
      for (const t of this.document.tags) if (t.region !== '') forms.add(`${t.name.split('.')[0]}@${t.region}`);
    }
    return closest(selector, forms);
  }
}

export function selectTags(index: TagIndex, selectors: readonly string[]): Selection {
  const chosen = new Set<ServiceTag>();
  const unknown: string[] = [];
  const warnings: string[] = [];
  for (const selector of selectors) {
    if (selector.trim() === '') {
      unknown.push('(an empty selector) matches no tag');
      continue;
    }
    const found = index.match(selector);
    if (found.length === 0) {
      const hints = index.suggestionsFor(selector);
      unknown.push(`${JSON.stringify(selector)} matches no tag${hints.length > 0 ? `; close names: ${hints.join(', ')}` : ''}`);
      continue;
    }
    for (const t of found) chosen.add(t);
    if (found.every((t) => t.ipv4.length === 0)) {
      warnings.push(`${JSON.stringify(selector)} selects no IPv4 prefix (IPv6 only or empty), so it adds no rule`);
    }
  }
  if (unknown.length > 0) {
    throw new TagwallError(
      'UNKNOWN_SELECTOR',
      unknown.length === 1 ? `unknown service tag selector: ${unknown[0]}` : `${unknown.length} service tag selectors match no tag in ${index.document.source}`,
      { details: unknown.length === 1 ? [] : unknown },
    );
  }
  const shared = [...chosen].filter((t) => SHARED_FAMILIES.has(serviceOf(t.name))).map((t) => t.name);
  if (shared.length > 0) {
    warnings.push(
      `${shared.slice(0, 3).join(', ')}${shared.length > 3 ? ` and ${shared.length - 3} more` : ''}: the AzureCloud family is every address Azure uses, shared by all Azure tenants; allowing it lets any Azure customer's resources reach the target`,
    );
  }
  const tags = index.document.tags.filter((t) => chosen.has(t));
  return { tags, warnings };
}
