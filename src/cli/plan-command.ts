import { TagwallError, isTagwallError } from '../core/errors.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import type { TagwallConfig, TargetConfig } from '../config/config.js';
import { configuredDetails, findConfiguredTarget } from '../config/find-target.js';
import { FIREWALL_KINDS } from '../targets/kinds.js';
import type { FirewallFacts } from '../targets/kind.js';
import type { ResolvedServiceTags } from '../sources/resolve.js';
import { planFor, renderPlan, type GuardOverrides, type PlanOutput, type ServiceTagsOrigin } from './plan.js';
import type { CliIO } from './io.js';

/**
 * `tagwall plan`: a selection planned for a kind of firewall (Key Vault unless `--kind` says
 * otherwise), or one configured target planned from its last record (`--config --target`). Both
 * are planned as sync plans a target: a target's settings built by the configuration's own code,
 * the same allowlist, the same planTarget and guards. Nothing here asks ARM anything.
 */

export interface PlanCommandOptions extends PlanOutput {
  readonly select?: string[];
  readonly kind: string;
  readonly maxRules?: number;
  readonly split31: boolean;
  readonly extra: string[];
  readonly exclude: string[];
  readonly guards: GuardOverrides;
  readonly config?: string;
  readonly target?: string;
  readonly serviceTagsGiven: boolean;
}

export type SourceLoader = (override?: { readonly serviceTags?: string; readonly cloud?: string; readonly downloadPage?: string; readonly allowHost?: string[]; readonly cacheDir?: string }) => Promise<ResolvedServiceTags>;

export const KIND_NAMES = FIREWALL_KINDS.map((k) => k.kind);

function kindNamed(name: string): FirewallFacts {
  const kind = FIREWALL_KINDS.find((k) => k.kind === name);
  if (kind === undefined) throw new TagwallError('USAGE', `--kind ${name}: not a firewall kind; use one of ${KIND_NAMES.join(', ')}`);
  return kind;
}

/** A resource ID of the kind that names no real resource: the configuration checks a target by its ID's kind. */
function placeholderId(kind: FirewallFacts): string {
  const [namespace, ...types] = kind.resourceType.split('/');
  return `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/tagwall-plan/providers/${namespace}/${types.map((t) => `${t}/plan`).join('/')}`;
}

function kebab(name: string): string {
  return `--${name.replace(/[A-Z0-9]+/g, (m) => `-${m.toLowerCase()}`)}`;
}

/** The command line's settings as one target of a configuration, so they are checked and defaulted exactly as a configured target's. */
async function commandLineTarget(options: PlanCommandOptions, io: CliIO): Promise<TargetConfig> {
  const kind = kindNamed(options.kind);
  const { parseConfig } = await import('../config/config.js');
  const raw = {
    // Never read: the document is given. The schema wants a source.
    serviceTags: { source: 'file', path: 'unused.json' },
    targets: [
      {
        resource: placeholderId(kind),
        select: options.select,
        ...(options.maxRules === undefined ? {} : { maxRules: options.maxRules }),
        ...(options.split31 ? { split31: true } : {}),
        guards: options.guards,
      },
    ],
  };
  try {
    const target = parseConfig(raw, { baseDir: io.cwd, source: 'the command line' }).targets[0]!;
    // The allowlist checks --extra and --exclude itself, naming each bad CIDR as the user wrote it.
    return { ...target, extra: options.extra, exclude: options.exclude };
  } catch (e) {
    if (!isTagwallError(e, 'CONFIG_INVALID')) throw e;
    const problems = e.details.map((p) => p.replace(/^targets\[0\](?:\.guards)?\.([A-Za-z0-9]+)(\[\d+\])?:/, (_, f: string) => `${kebab(f)}:`).replace(/^targets\[0\]:\s*/, ''));
    throw new TagwallError('USAGE', problems.join('; '), { details: problems.length > 1 ? problems : [] });
  }
}

function originOf(loaded: ResolvedServiceTags): ServiceTagsOrigin {
  return { ...(loaded.path === undefined ? {} : { path: loaded.path }), ...(loaded.url === undefined ? {} : { url: loaded.url }), cacheUsed: loaded.cacheUsed };
}

/** `now`: the moment a configured target's temporary entries are judged at (a test's clock). */
export async function runPlanCommand(options: PlanCommandOptions, io: CliIO, loadSource: SourceLoader, now: () => Date = () => new Date()): Promise<number> {
  if (options.target !== undefined || options.config !== undefined) return runTargetPlan(options, io, loadSource, now);
  if (options.select === undefined) throw new TagwallError('USAGE', 'plan needs --select (for example --select AzureDevOps,LogicApps@westeurope), or --config FILE --target ID; `tagwall tags` lists the tags');
  const target = await commandLineTarget(options, io);
  const loaded = await loadSource();
  return renderPlan(loaded.document, originOf(loaded), target, planFor(loaded.document, target, undefined, options.force, true), options, io, loaded.warnings);
}

/** One configured target, planned offline: its kind's facts, its settings and guards, its last record (read only). */
async function runTargetPlan(options: PlanCommandOptions, io: CliIO, loadSource: SourceLoader, now: () => Date): Promise<number> {
  if (options.config === undefined || options.target === undefined) throw new TagwallError('USAGE', 'plan --target needs --config FILE, and --config needs --target ID (the resource ID or name of a configured target)');
  const given = [options.select !== undefined && '--select', options.maxRules !== undefined && '--max-rules', options.split31 && '--split-31', options.extra.length > 0 && '--extra', options.exclude.length > 0 && '--exclude', options.kind !== 'keyvault' && '--kind'].filter((x): x is string => x !== false);
  if (given.length > 0) throw new TagwallError('USAGE', `${given.join(', ')}: with --target, the configuration decides the target's selection and settings (only the guard options and --force may override)`);
  const [{ loadConfig }, { peekRecord }] = await Promise.all([import('../config/load.js'), import('../state/peek.js')]);
  const config = await loadConfig({ file: options.config, env: io.env, cwd: io.cwd });
  // A discovered firewall's settings come from its tag and Resource Graph: not something to plan offline.
  const configured = configuredTarget(config, options.target);
  const target: TargetConfig = { ...configured, guards: { ...configured.guards, ...options.guards } };
  const loaded = await loadSource(options.serviceTagsGiven ? undefined : sourceOfConfig(config));
  const doc: ServiceTagDocument = loaded.document;
  const { record, grants, store } = await peekRecord(config.state, io.env, target.resource);
  // Dated extras and grants as sync would take them now: allowed until their end, then left out and reported.
  const temporary = { grants: grants.grants, reported: grants.reported, now: now() };
  return renderPlan(doc, originOf(loaded), target, planFor(doc, target, record, options.force, false, temporary), options, io, loaded.warnings, { record, store });
}

/** `--target`: a configured target by resource ID or name, read as `allow --target` reads it (and refused with its code). */
function configuredTarget(config: TagwallConfig, given: string): TargetConfig {
  const lookup = findConfiguredTarget(config, given);
  if (lookup.found !== undefined) return lookup.found;
  if (lookup.ambiguous !== undefined) {
    throw new TagwallError('VAULT_NOT_CONFIGURED', `${lookup.ambiguous.length} configured targets are named ${given}; give the one meant by its resource ID`, { details: configuredDetails(lookup.ambiguous) });
  }
  throw new TagwallError('VAULT_NOT_CONFIGURED', `not a configured target: ${given} (plan --target takes a target in the configuration's targets, by resource ID or name)`, { details: configuredDetails(config.targets) });
}

function sourceOfConfig(config: Awaited<ReturnType<typeof import('../config/load.js').loadConfig>>): Parameters<SourceLoader>[0] {
  const s = config.serviceTags;
  if (s.source === 'arm') {
    throw new TagwallError('USAGE', 'plan --target reads no ARM: the configuration takes service tags from ARM (serviceTags.source "arm"); pass --service-tags FILE');
  }
  if (s.source === 'file') return { serviceTags: s.path, cloud: config.cloud };
  return {
    cloud: config.cloud,
    ...(s.source === 'url' ? { serviceTags: s.url } : s.pageUrl === undefined ? {} : { downloadPage: s.pageUrl }),
    ...(s.allowedHosts === undefined ? {} : { allowHost: s.allowedHosts }),
    ...(s.cacheDir === undefined ? {} : { cacheDir: s.cacheDir }),
  };
}
