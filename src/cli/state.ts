import { createInterface } from 'node:readline/promises';
import { loadConfig } from '../config/load.js';
import { TagwallError } from '../core/errors.js';
import { actionFor } from '../alerts/actions.js';
import { adoptState, forgetState, offboard, showState, type Confirm, type StateView } from '../run/state-tools.js';
import type { Runtime } from '../run/open.js';
import { FIREWALL_KINDS } from '../targets/kinds.js';
import { writeLine, type CliIO } from './io.js';
import { cliLogger } from './sync.js';

/**
 * The CLI side of `tagwall state show|forget|adopt` and `tagwall offboard` (the work is in
 * run/state-tools.ts): loading the configuration, asking before a change, printing the outcome.
 */

/** Where a confirmation is read: the process's stdin, unless a test gives its own. */
export type StateIO = CliIO & { readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean } };

interface Common {
  config?: string;
  json: boolean;
  verbose?: boolean;
}

async function setUp(opts: Common, io: CliIO): Promise<{ config: Awaited<ReturnType<typeof loadConfig>>; runtime: Runtime }> {
  const config = await loadConfig({ ...(opts.config === undefined ? {} : { file: opts.config }), env: io.env, cwd: io.cwd });
  return { config, runtime: { env: io.env, logger: cliLogger(io, opts.verbose === true) } };
}

/**
 * Asks on a terminal; `--yes` answers for a pipeline. Without a terminal and without `--yes` the
 * change is refused rather than made unasked (CONFIRMATION_REQUIRED).
 */
export function confirmer(io: StateIO, yes: boolean): Confirm {
  return async (question) => {
    if (yes) return;
    const stdin = io.stdin ?? process.stdin;
    if (stdin.isTTY !== true) throw new TagwallError('CONFIRMATION_REQUIRED', `${question}: not confirmed (stdin is not a terminal); pass --yes to confirm, nothing was changed`);
    const rl = createInterface({ input: stdin, output: io.stderr });
    try {
      const answer = await rl.question(`${question}. Proceed? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) throw new TagwallError('CONFIRMATION_REQUIRED', 'not confirmed; nothing was changed');
    } finally {
      rl.close();
    }
  };
}

function list(rules: readonly string[], max = 20): string {
  if (rules.length === 0) return '(none)';
  return `${rules.slice(0, max).join(', ')}${rules.length > max ? `, ... (${rules.length - max} more)` : ''}`;
}

/** How a name-owned kind names tagwall's rules (`tagwall-<owner>-<n>`; Redis `tagwall_<owner>_<n>`). */
function ruleNames(kind: string): string {
  return FIREWALL_KINDS.find((k) => k.kind === kind)?.ownedByName ?? 'tagwall-<owner>-<n>';
}

function reasonText(reason: StateView['owned'][number]['reason'], kind: string): string {
  if (reason === 'written') return 'written by tagwall';
  if (reason === 'adopted') return 'adopted (on first contact, or with `state adopt`)';
  if (reason === 'intent') return 'added by an unconfirmed write';
  return `named ${ruleNames(kind)} on the target`;
}

export function renderStateView(v: StateView): string {
  const lines = [`Target      ${v.target} (${v.kind}${v.configured ? ', configured' : ', not configured'})`, `State       ${v.store}`];
  if (v.record === null) lines.push('Record      none: tagwall owns nothing here yet (the next sync makes its first contact)');
  else {
    const r = v.record;
    lines.push(`Last check  ${r.appliedAt ?? 'never confirmed'}`, `Last write  ${r.writtenAt ?? 'none recorded'}`, `Source      service tags #${r.changeNumber}, ${r.sourceAddresses} addresses`);
    if (r.intent !== undefined) {
      lines.push(`Intent      run ${r.intent.runId} from ${r.intent.startedAt} (${r.intent.live ? 'live: that run may be writing now' : 'expired: the next run judges it'}): +${r.intent.add.length} -${r.intent.remove.length}`);
    }
  }
  if (v.ownedByName !== undefined) {
    lines.push('rules' in v.ownedByName ? `Owner ID    ${v.ownedByName.ownerId} (rules named ${ruleNames(v.kind)} with this owner are tagwall's)` : `Owner ID    ${v.ownedByName.ownerId}; the target could not be read: ${v.ownedByName.error.code}: ${v.ownedByName.error.message}`);
  }
  lines.push(`Owned       ${v.owned.length} rule${v.owned.length === 1 ? '' : 's'}`);
  for (const o of v.owned) lines.push(`  ${o.rule.padEnd(20)} ${reasonText(o.reason, v.kind)}${o.runId === undefined ? '' : ` (run ${o.runId})`}${o.present === false ? '; missing from the target (drift)' : ''}`);
  return lines.join('\n');
}

export async function runStateShow(id: string, opts: Common, io: StateIO): Promise<number> {
  const { config, runtime } = await setUp(opts, io);
  const view = await showState(config, id, runtime);
  writeLine(io.stdout, opts.json ? JSON.stringify(view) : renderStateView(view));
  return 0;
}

export async function runStateForget(id: string, opts: Common & { yes: boolean; force: boolean }, io: StateIO): Promise<number> {
  const { config, runtime } = await setUp(opts, io);
  const r = await forgetState(config, id, { force: opts.force, confirm: confirmer(io, opts.yes) }, runtime);
  if (opts.json) writeLine(io.stdout, JSON.stringify(r));
  else if (r.record === 'none') writeLine(io.stdout, `${r.target}: no record; tagwall owns nothing there, nothing to forget`);
  else if (r.nameOwned === true) writeLine(io.stdout, `${r.target}: record deleted from ${r.store}; nothing released: on a ${r.kind} target tagwall's rules are the ones named ${ruleNames(r.kind)}, and they stay tagwall's by their names (offboard removes them)`);
  else writeLine(io.stdout, `${r.target}: record deleted from ${r.store}; ${r.released.length} rule(s) are a person's from now on: ${list(r.released)}`);
  return 0;
}

export async function runStateAdopt(id: string, opts: Common & { yes: boolean; dryRun: boolean }, io: StateIO): Promise<number> {
  const { config, runtime } = await setUp(opts, io);
  const r = await adoptState(config, id, { dryRun: opts.dryRun, confirm: confirmer(io, opts.yes) }, runtime);
  if (opts.json) writeLine(io.stdout, JSON.stringify(r));
  else {
    const verb = r.dryRun ? 'would adopt' : r.record === 'saved' ? 'adopted' : 'adopts';
    writeLine(io.stdout, [`${r.target}: ${verb} ${r.adopt.length} rule(s): ${list(r.adopt)}`, `already tagwall's: ${r.owned.length}; not wanted by the configuration (a person's, left alone): ${list(r.notWanted)}`].join('\n'));
  }
  return 0;
}

export async function runOffboard(id: string, opts: Common & { yes: boolean; dryRun: boolean; force: boolean; allowOpen: boolean }, io: StateIO): Promise<number> {
  const { config, runtime } = await setUp(opts, io);
  const r = await offboard(config, id, { dryRun: opts.dryRun, force: opts.force, allowOpen: opts.allowOpen, confirm: confirmer(io, opts.yes) }, runtime);
  // A refusal or failure says its code as every other command's does (`allow`'s, sync's with
  // --quiet): first on stderr, and as `error` in --json, so a pipeline need not know `reasons`.
  const failure = r.error ?? r.reasons[0];
  if (opts.json) writeLine(io.stdout, JSON.stringify(failure === undefined || r.error !== undefined ? r : { ...r, error: { code: failure.code, message: failure.message } }));
  else {
    const lines = [
      `Offboard   ${r.target} (${r.kind})${r.dryRun ? ', dry run: nothing written' : ''}`,
      `Outcome    ${r.outcome}`,
      `Remove     ${r.remove.length} of tagwall's: ${list(r.remove)}`,
      `Keep       ${r.keep.length}: ${list(r.keep)}${r.special.length === 0 ? '' : ` (special to the kind: ${list(r.special)})`}`,
      `Record     ${r.record} (${r.store})`,
    ];
    for (const x of r.reasons) lines.push(`refused    ${x.code}: ${x.message}`, `  do: ${actionFor(x.code).action}`);
    if (r.error !== undefined) lines.push(`failed     ${r.error.code}: ${r.error.message}`, `  do: ${actionFor(r.error.code).action}`);
    writeLine(io.stdout, lines.join('\n'));
  }
  const failed = r.outcome === 'refused' || r.outcome === 'failed';
  if (failed) for (const x of r.error === undefined ? r.reasons : [r.error]) writeLine(io.stderr, `tagwall: ${x.code}: ${r.target}: ${x.message}`);
  return failed ? 1 : 0;
}
