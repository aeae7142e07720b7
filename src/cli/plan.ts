import type { Allowlist } from '../core/allowlist.js';
import type { WideningReport } from '../core/explain.js';
import { explainCover } from '../core/explain-cover.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import { writeLine, type CliIO } from './io.js';
import { count, plural, table } from '../core/text.js';
import { guardVerdicts, type GuardVerdict } from '../core/plan/verdicts.js';
import { planTarget, type AppliedRecord, type Guards, type ObservedFirewall, type TargetPlan } from '../core/target-plan.js';
import type { TargetConfig } from '../config/config.js';
import { desiredForDocument } from '../run/reconcile.js';
import { renderExport, type ExportFormat } from '../export/iac.js';
import { normaliseRule, ruleToWrite } from '../core/rules.js';
import { withTemporary } from '../run/steps/temporary.js';
import { renderPlanMarkdown } from './plan-markdown.js';
import type { Grant } from '../state/grants.js';

export type PlanFormat = 'text' | 'json' | 'markdown' | ExportFormat;

export interface PlanOutput {
  readonly format: PlanFormat;
  readonly explain: boolean;
  /** Only errors on stderr (a refusing guard's code), no text plan and no warnings; json, markdown and exports still printed. */
  readonly quiet?: boolean;
  /** Override the guards for this plan, as `sync --force` would: the verdicts say what was overridden. */
  readonly force: boolean;
}

/** How many widened rules the text output lists before it just counts the rest. */
const EXPLAIN_LIST = 20;

/** Where the document came from, as `plan --json` reports it. */
export interface ServiceTagsOrigin {
  readonly path?: string;
  readonly url?: string;
  readonly cacheUsed?: boolean;
}

/** A configured target planned from its last record (`plan --config --target`). */
export interface PlannedTarget {
  readonly record: AppliedRecord | undefined;
  /** Where the record was read from, for people. */
  readonly store: string;
}

export function planReport(doc: ServiceTagDocument, origin: ServiceTagsOrigin, plan: TargetPlan, guards: readonly GuardVerdict[], extraWarnings: readonly string[] = [], widening?: WideningReport) {
  const allowlist: Allowlist | undefined = plan.desired;
  return {
    serviceTags: { cloud: doc.cloud, changeNumber: doc.changeNumber, ...origin },
    selected: allowlist?.selected ?? [],
    // The firewall's whole list after the plan, as it is written (the kind's single-address form).
    rules: plan.nextRules,
    ...(allowlist === undefined ? {} : { stats: allowlist.stats }),
    ...(widening === undefined ? {} : { widening }),
    guards,
    warnings: [...extraWarnings, ...(allowlist?.warnings ?? [])],
  };
}

function explainLines(w: WideningReport): string[] {
  const t = w.totals;
  const lines = [
    '',
    `Widened        ${plural(t.widenedRules, 'rule')} admit ${count(t.excessAddresses)} addresses beyond the source: ${count(t.excessInAzure)} in Azure's own space, ${count(t.excessOutsideAzure)} outside it`,
  ];
  if (t.widenedRules === 0) return lines;
  const rows = w.rules.slice(0, EXPLAIN_LIST).map((r) => [r.rule, count(r.sourceAddresses), count(r.excessAddresses), count(r.excessInAzure), count(r.excessOutsideAzure), r.tags.join(', ')]);
  lines.push(...table([['RULE', 'SOURCE', 'EXCESS', 'IN AZURE', 'OUTSIDE', 'TAGS'], ...rows], new Set([1, 2, 3, 4])).split('\n'));
  if (w.rules.length > EXPLAIN_LIST) lines.push(`... and ${plural(w.rules.length - EXPLAIN_LIST, 'narrower widened rule')}`);
  return lines;
}

/** A firewall as its last record saw it; with no record, an empty firewall that filters (so no posture finding is invented). */
function firewallOf(record: AppliedRecord | undefined): ObservedFirewall {
  if (record === undefined) return { ipRules: [], virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny' } };
  return {
    ipRules: record.observedRules,
    virtualNetworkRuleCount: record.seen?.virtualNetworkRuleCount ?? 0,
    posture: record.posture,
    ...(record.seen?.perimeter === undefined ? {} : { perimeter: record.seen.perimeter }),
  };
}

/**
 * Plans one target exactly as sync would (the same allowlist function, the same planVault and its
 * guards), against its last record or an empty firewall. Throws the collapse's own error when no
 * cover fits at all and there is no firewall to report on (a plain `plan`), as before guards.
 */
export function planFor(doc: ServiceTagDocument, configured: TargetConfig, record: AppliedRecord | undefined, force: boolean, plain: boolean, temporary?: TemporaryInput): { plan: TargetPlan; guards: GuardVerdict[] } {
  // A configured target's dated extras and grants as a run would take them at this moment.
  const dated = temporary === undefined ? undefined : withTemporary(configured, temporary.grants, temporary.now, desiredForDocument(doc));
  const target = dated?.target ?? configured;
  const desiredFor = dated?.desiredFor ?? desiredForDocument(doc);
  let infeasible: unknown;
  const plan = planTarget({
    firewall: firewallOf(record),
    record,
    settings: target,
    guards: target.guards,
    force,
    desiredFor: (budget, kept, o) => {
      try {
        return desiredFor(target, budget, kept, o?.unbounded === true, o?.keptRanges);
      } catch (e) {
        infeasible = e;
        throw e;
      }
    },
  });
  if (plain && plan.desired === undefined && infeasible !== undefined) throw infeasible;
  const found = dated?.findings(new Set(temporary?.reported ?? [])) ?? [];
  return { plan: found.length === 0 ? plan : { ...plan, findings: [...plan.findings, ...found] }, guards: guardVerdicts(plan, target.guards, record) };
}

/** A configured target's temporary entries beyond its configuration: its grants and the expiries already reported, from the state store. */
export interface TemporaryInput {
  readonly grants: readonly Grant[];
  readonly reported: readonly string[];
  readonly now: Date;
}

const percent = (f: unknown) => `${Math.round(Number(f) * 100)}%`;

/** What a passing guard was held to, in words; a refusal or warning says it in its own message. */
const PASS_TEXT: Readonly<Record<string, (v: GuardVerdict) => string>> = {
  EMPTY_SOURCE_GUARD: (v) => (v.rules === undefined ? '' : `${plural(Number(v.rules), 'rule')} wanted`),
  SOURCE_SHRINK_GUARD: (v) => (v.before === undefined ? 'no record to compare the source with' : `${count(Number(v.after))} source addresses, ${count(Number(v.before))} at the last record (limit: shrinking by ${percent(v.limit)})`),
  REMOVAL_GUARD: (v) => (v.removed === undefined ? '' : `removes ${count(Number(v.removed))} of ${count(Number(v.current))} rules (limit ${percent(v.limit)})`),
  EXCESS_GUARD: (v) => (v.excessAddresses === undefined ? '' : `${count(Number(v.excessAddresses))} addresses beyond the source (limit ${count(Number(v.limit))})`),
  COLLAPSE_INFEASIBLE: (v) => (v.limit === 0 ? 'no bound on widened rules (guards.maxWidenedPrefix 0)' : `no widened rule wider than /${String(v.limit)} (guards.maxWidenedPrefix)`),
  WIDE_RULE: (v) => (v.limit === 0 ? 'off (guards.warnWidenedPrefix 0)' : `no widened rule wider than /${String(v.limit)} (guards.warnWidenedPrefix)`),
};

function guardText(v: GuardVerdict): string {
  return v.message ?? PASS_TEXT[v.code]?.(v) ?? '';
}

function guardLine(v: GuardVerdict): string {
  return `  ${v.verdict.padEnd(8)} ${v.code.padEnd(20)} ${guardText(v)}`.trimEnd();
}

/** The plan's figures as the Markdown summary's table has them (the text output's lines, as label and value). */
function planFigures(target: TargetConfig, plan: TargetPlan, selected: readonly string[], configured: PlannedTarget | undefined): [string, string][] {
  const s = plan.desired?.stats;
  return [
    ['selected', `${plural(selected.length, 'tag')}: ${summariseNames(selected)}`],
    ['rules', `${count(plan.nextRules.length)} of ${count(target.maxRules)}${target.split31 ? ' (no /31)' : ''}`],
    ...(configured === undefined ? [] : [
      ['to add', count(plan.add.length)],
      ['to remove', count(plan.remove.length)],
      ["not tagwall's (kept)", count(plan.unmanaged.length)],
    ] as [string, string][]),
    ...(s === undefined ? [] : [
      ['source addresses', count(s.sourceAddresses)],
      ['allowed beyond the source', `${count(s.excessAddresses)}${s.sourceAddresses > 0 ? ` (+${((100 * s.excessAddresses) / s.sourceAddresses).toFixed(1)}%)` : ''}`],
    ] as [string, string][]),
  ];
}

/**
 * Prints a plan in the chosen format and returns the exit code: 1 when a guard refuses it (as sync
 * would refuse to write it). An export format writes nothing on stdout then, so a refused plan never
 * lands in a variables file; text and JSON show the plan and every verdict.
 */
export function renderPlan(
  doc: ServiceTagDocument,
  origin: ServiceTagsOrigin,
  target: TargetConfig,
  result: { plan: TargetPlan; guards: readonly GuardVerdict[] },
  output: PlanOutput,
  io: CliIO,
  sourceWarnings: readonly string[] = [],
  configured?: PlannedTarget,
): number {
  const { plan, guards } = result;
  const refused = guards.filter((g) => g.verdict === 'refused');
  const forced = guards.filter((g) => g.verdict === 'forced');
  const code = refused.length > 0 ? 1 : 0;
  // Explaining costs a pass over the rules and the file's tags; only when asked.
  const widening = output.explain && plan.desired !== undefined ? explainCover(plan.desired, doc) : undefined;
  const report = planReport(doc, origin, plan, guards, sourceWarnings, widening);
  const where = origin.url ?? origin.path ?? doc.source;
  const warn = (w: string) => {
    if (output.quiet !== true) writeLine(io.stderr, `warning: ${w}`);
  };
  const tail = () => {
    if (output.quiet === true) {
      // As sync --quiet says a refused target: the code first, then the target.
      for (const g of refused) writeLine(io.stderr, `tagwall: ${g.code}: ${configured === undefined ? '' : `${target.resource.id}: `}${g.message ?? ''}`);
      return;
    }
    if (refused.length > 0) writeLine(io.stderr, `tagwall: sync would refuse this plan: ${refused.map((g) => g.code).join(', ')}${configured === undefined ? '' : ` for ${target.resource.id}`} (--force overrides the guards)`);
    if (forced.length > 0) writeLine(io.stderr, `warning: --force overrode ${forced.map((g) => g.code).join(', ')} for this plan`);
  };
  // WIDE_RULE is a guard's verdict here, shown with the guards.
  const findings = plan.findings.filter((f) => f.code !== 'WIDE_RULE');
  const targetFields = configured === undefined ? {} : {
    target: { id: target.resource.id, kind: target.kind.kind, record: configured.record !== undefined, store: configured.store },
    add: plan.add,
    remove: plan.remove,
    unmanaged: plan.unmanaged,
    shared: plan.shared,
    findings,
  };
  if (output.format === 'json') {
    writeLine(io.stdout, JSON.stringify({ ...report, ...targetFields }));
    tail();
    return code;
  }
  if (output.format === 'markdown') {
    for (const w of report.warnings) warn(w);
    writeLine(io.stdout, renderPlanMarkdown({
      serviceTags: `${doc.cloud}, change ${doc.changeNumber} (${where})${origin.cacheUsed ? ', from the last-known-good cache' : ''}`,
      warnings: report.warnings,
      ...(configured === undefined ? {} : { target: { id: target.resource.id, title: target.kind.title, record: recordText(configured) } }),
      figures: planFigures(target, plan, report.selected, configured),
      guards: guards.map((g) => ({ code: g.code, verdict: g.verdict, text: guardText(g) })),
      findings: configured === undefined ? [] : findings,
      ...(widening === undefined ? {} : { widening }),
      rules: report.rules,
      ...(configured === undefined ? {} : { add: plan.add.map((k) => written(k, target)), remove: plan.remove.map((k) => written(k, target)) }),
    }));
    tail();
    return code;
  }
  if (output.format !== 'text') {
    for (const w of report.warnings) warn(w);
    if (refused.length > 0) {
      if (output.quiet !== true) for (const g of refused) writeLine(io.stderr, `refused: ${g.code}: ${g.message ?? ''}`);
      tail();
      return code;
    }
    const text = renderExport(output.format, {
      kind: target.kind,
      rules: plan.nextRules,
      add: configured === undefined ? plan.nextRules : plan.add.map((k) => written(k, target)),
      remove: configured === undefined ? [] : plan.remove.map((k) => written(k, target)),
      ...(configured === undefined ? {} : { resource: target.resource }),
      origin: `tagwall plan: ${report.selected.join(', ')} from ${doc.cloud} service tags change ${doc.changeNumber} (${where})`,
    });
    io.stdout.write(text);
    tail();
    return code;
  }
  for (const w of report.warnings) warn(w);
  if (output.quiet === true) {
    tail();
    return code;
  }
  const s = plan.desired?.stats;
  const lines = [
    `Service tags   ${doc.cloud}, change ${doc.changeNumber}${origin.cacheUsed ? ' (from the last-known-good cache)' : ''}: ${where}`,
    ...(configured === undefined ? [] : targetLines(target, plan, configured)),
    `Selected       ${plural(report.selected.length, 'tag')}: ${summariseNames(report.selected)}`,
    ...(s === undefined ? [] : [
      `Prefixes       ${count(s.selectedPrefixes)} listed, ${count(s.ipv6Dropped)} IPv6 dropped, ${plural(s.forbiddenAddressesRemoved, 'forbidden address', 'forbidden addresses')} removed${s.excludedAddressesRemoved > 0 ? `, ${plural(s.excludedAddressesRemoved, 'excluded address', 'excluded addresses')} removed` : ''}`,
      `Merged         ${plural(s.mergedPrefixes, 'block')} covering ${plural(s.sourceAddresses, 'address', 'addresses')}`,
      `Rules          ${count(plan.nextRules.length)} of ${count(target.maxRules)}${target.split31 ? ' (no /31)' : ''}`,
      `Allowed        ${plural(s.allowedAddresses, 'address', 'addresses')}: ${count(s.excessAddresses)} beyond the source${s.sourceAddresses > 0 ? ` (+${((100 * s.excessAddresses) / s.sourceAddresses).toFixed(1)}%)` : ''}`,
    ]),
    ...(widening === undefined ? [] : explainLines(widening)),
    // A configured target's findings, as sync prints them (WIDE_RULE is a guard's verdict below).
    ...(configured === undefined ? [] : (targetFields.findings ?? []).map((f) => `Finding        ${f.severity} ${f.code}: ${f.message}`)),
    '',
    `Guards         ${refused.length > 0 ? `sync would refuse: ${refused.map((g) => g.code).join(', ')}` : forced.length > 0 ? `overridden by --force: ${forced.map((g) => g.code).join(', ')}` : 'sync would write this plan'}`,
    ...guards.map(guardLine),
    ...(configured === undefined || findings.length === 0 ? [] : ['', 'Findings', ...findings.map((f) => `  ${f.severity.padEnd(8)} ${f.code}: ${f.message}`)]),
    '',
    ...report.rules,
  ];
  for (const l of lines) writeLine(io.stdout, l);
  tail();
  return code;
}

/** A plan's normalised key (`a.b.c.d/n`) in the form the firewall is written with. */
function written(key: string, target: TargetConfig): string {
  const rule = normaliseRule(key);
  return rule.cidr === undefined ? rule.value : ruleToWrite(rule.cidr, target.singleAddress);
}

/** The last record, in words (after "Last record"). */
function recordText(configured: PlannedTarget): string {
  const r = configured.record;
  return r === undefined
    ? `none in ${configured.store}: planned as first contact with an empty firewall`
    : `${configured.store}: change ${r.changeNumber}, ${plural(r.observedRules.length, 'rule')} seen, ${count(r.ownedRules.length)} tagwall's${r.appliedAt === undefined ? '' : `, confirmed ${r.appliedAt}`}`;
}

function targetLines(target: TargetConfig, plan: TargetPlan, configured: PlannedTarget): string[] {
  return [
    `Target         ${target.kind.title} ${target.resource.name}: ${target.resource.id}`,
    `Last record    ${recordText(configured)}`,
    `Changes        ${count(plan.add.length)} to add, ${count(plan.remove.length)} to remove, ${plural(plan.unmanaged.length, 'rule')} not tagwall's kept`,
  ];
}

function summariseNames(names: readonly string[]): string {
  if (names.length <= 6) return names.join(', ');
  return `${names.slice(0, 5).join(', ')} and ${count(names.length - 5)} more`;
}

/** The guard settings the command line names, as the configuration names them (`--max-excess-addresses` is `guards.maxExcessAddresses`). */
export type GuardOverrides = Partial<Guards>;
