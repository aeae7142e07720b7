import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { describeError, TagwallError } from '../core/errors.js';
import { CLOUDS, type CloudName } from '../core/service-tags.js';
import { basename, resolve } from 'node:path';
import type { ResolvedServiceTags } from '../sources/resolve.js';
import { splitSelectors } from '../core/selection.js';
import { fileDateOf, fileDateToUtc } from '../sources/download-page.js';
import { loadServiceTagFile } from '../sources/file.js';
import { tagwallVersion } from '../version.js';
import { writeLine, type CliIO } from './io.js';
import type { PlanFormat, ServiceTagsOrigin } from './plan.js';
import { EXPORT_FORMATS } from '../export/iac.js';
import { FIREWALL_KINDS } from '../targets/kinds.js';
import { runTags } from './tags.js';
import type { SyncOptions } from './sync.js';
import { registerStateCommands } from './state-commands.js';
import { registerAllow } from './allow.js';
import type { ApplyOptions } from './apply.js';
import { alertsOption, outputOptions, progressOption, quietOption } from './output-options.js';
import { parseDuration } from '../core/duration.js';
import { DEFAULT_PLAN_MAX_AGE_MS } from '../run/plan-store.js';

const KIND_NAMES = FIREWALL_KINDS.map((k) => k.kind);

function widenedPrefix(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 32) throw new InvalidArgumentError('must be a prefix length from 0 to 32 (0: no bound).');
  return Number(value);
}

/** `90s`, `8m`, `1h`, `2d` (or plain seconds) to milliseconds. */
function durationOption(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('must be a duration such as 90s, 8m, 1h or 2d.');
  return ms;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function ruleBudget(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number, at least 1 (at most the kind\'s limit).');
  return Number(value);
}

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number.');
  return Number(value);
}

function fraction(value: string): number {
  const n = Number(value);
  if (!/^(0|1|0?\.\d+|1\.0*)$/.test(value.trim()) || n < 0 || n > 1) throw new InvalidArgumentError('must be a fraction from 0 to 1, e.g. 0.5.');
  return n;
}

interface PlanCliOptions {
  select?: string[];
  kind: string;
  maxRules?: number;
  split31: boolean;
  extra?: string[];
  exclude?: string[];
  maxWidenedPrefix?: number;
  warnWidenedPrefix?: number;
  maxExcessAddresses?: number;
  maxRemovedFraction?: number;
  maxSourceShrinkFraction?: number;
  force: boolean;
  config?: string;
  target?: string;
  format: PlanFormat;
  explain: boolean;
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  progress: boolean;
}

/**
 * The age past which a file's date earns a warning, as the resolver's file source gives it
 * (OLD_FILE_DAYS in sources/download.ts). Repeated here because importing that module would
 * load the download stack, which a plan from a local file does without.
 */
const OLD_FILE_DAYS = 21;

function oldFileWarnings(path: string, cloud: string): string[] {
  if (!(CLOUDS as readonly string[]).includes(cloud)) return [];
  const date = fileDateOf(basename(path).replace(/\.gz$/i, ''), cloud as CloudName);
  if (date === undefined || Date.now() - fileDateToUtc(date).getTime() <= OLD_FILE_DAYS * 86_400_000) return [];
  return [`${path}: the file is dated ${date}, more than ${OLD_FILE_DAYS} days ago`];
}

function cidrList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

interface SourceOptions {
  serviceTags?: string;
  cloud?: CloudName;
  downloadPage?: string;
  allowHost?: string[];
  cacheDir: string;
  /** --quiet: no download meter either. */
  quiet?: boolean;
}

/** A file or URL given with --service-tags, or this week's download for --cloud (Public by default). */
async function loadSource(opts: SourceOptions, io: CliIO): Promise<ResolvedServiceTags> {
  const given = opts.serviceTags;
  if (given !== undefined && !/^https?:\/\//i.test(given)) {
    const path = resolve(io.cwd, given);
    // Without --cloud a local file is taken for whatever cloud it says it is.
    if (opts.cloud === undefined) {
      const document = await loadServiceTagFile(path);
      // The same age warning the file source gives with --cloud and in `sync`.
      return { document, path: given, changeNumber: document.changeNumber, cacheUsed: false, downloaded: false, warnings: oldFileWarnings(path, document.cloud) };
    }
  }
  // The download stack (undici, the ARM client) is loaded only when it is needed: loading it
  // costs more than planning from a local file.
  const [{ resolveServiceTags }, { createProgressLine }, { FolderStore }] = await Promise.all([
    import('../sources/resolve.js'),
    import('../sources/progress.js'),
    import('../state/store.js'),
  ]);
  if (given !== undefined && !/^https?:\/\//i.test(given)) {
    return { ...(await resolveServiceTags({ source: 'file', cloud: opts.cloud ?? 'Public', path: resolve(io.cwd, given) })), path: given };
  }
  const meter = createProgressLine(opts.quiet === true ? { write: () => true } : io.stderr, 'Downloading service tags');
  try {
    return await resolveServiceTags({
      source: given === undefined ? 'download' : 'url',
      cloud: opts.cloud ?? 'Public',
      ...(given === undefined ? {} : { url: given }),
      ...(opts.downloadPage === undefined ? {} : { pageUrl: opts.downloadPage }),
      ...(opts.allowHost === undefined ? {} : { allowedHosts: opts.allowHost }),
      cache: new FolderStore(resolve(io.cwd, opts.cacheDir)),
      onProgress: meter.update,
    });
  } finally {
    meter.done();
  }
}

function originOf(loaded: ResolvedServiceTags): ServiceTagsOrigin {
  return { ...(loaded.path === undefined ? {} : { path: loaded.path }), ...(loaded.url === undefined ? {} : { url: loaded.url }), cacheUsed: loaded.cacheUsed };
}

/** Exit codes: 0 fine, 1 failure or refused input; `sync --detailed-exitcode` adds 2. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export function createProgram(io: CliIO): Command {
  const program = new Command('tagwall')
    .description('Keep Azure firewalls (Key Vault, Storage, Event Hubs, perimeters, ...) in step with Azure Service Tags.')
    .version(tagwallVersion(), '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // One prefix for every error, whether the parser or a command found it.
      outputError: (s, write) => write(s.replace(/^error: /, 'tagwall: ')),
    })
    .exitOverride();

  const sourceOptions = (cmd: Command): Command =>
    cmd
      .option('--service-tags <path|url>', 'a service-tags file (.json or .json.gz) or an https URL of one (default: download this week\'s file)')
      .addOption(
        new Option('--cloud <cloud>', 'which cloud\'s file to download, and to insist on (default: Public; a local file without --cloud is taken for its own cloud)').choices([
          ...CLOUDS,
        ]),
      )
      .option('--download-page <url>', 'the download-centre page to read the file link from (default: the cloud\'s)')
      .option('--allow-host <host>', 'also allow downloads from this host, or host:port (mirrors); repeatable', collect)
      .option('--cache-dir <dir>', 'where the last-known-good downloaded file is kept', '.tagwall/cache');

  sourceOptions(
    program
      .command('plan')
      .description('Compute the optimal IPv4 allowlist for a selection of service tags and judge it with sync\'s guards, without touching any firewall; or plan one configured target offline (--config, --target).'),
  )
    .option('--select <selectors>', 'the tags to allow: Name, Name.*, *, or Service@region; comma-separated, repeatable', collect)
    .addOption(new Option('--kind <kind>', 'the kind of firewall to plan for: its rule limit, address forms and special entries').choices(KIND_NAMES).default('keyvault'))
    .option('--max-rules <n>', 'rule budget (default: the kind\'s limit, 1000 for a Key Vault)', ruleBudget)
    .option('--split-31', 'never emit a /31 (old Key Vault API; kinds that refuse /31 never get one anyway)', false)
    .option('--extra <cidrs>', 'extra IPv4 CIDRs to allow, comma-separated, repeatable', collect)
    .option('--exclude <cidrs>', 'IPv4 CIDRs never to allow, comma-separated, repeatable', collect)
    .option('--max-widened-prefix <n>', 'guards.maxWidenedPrefix: no widened rule wider than this prefix length; 0 turns the bound off (default 12)', widenedPrefix)
    .option('--warn-widened-prefix <n>', 'guards.warnWidenedPrefix: a widened rule wider than this is a WIDE_RULE warning; 0 turns it off (default 16)', widenedPrefix)
    .option('--max-excess-addresses <n>', 'guards.maxExcessAddresses: refuse a cover admitting more addresses beyond the source (EXCESS_GUARD; default 1048576)', wholeNumber)
    .option('--max-removed-fraction <f>', 'guards.maxRemovedFraction: refuse removing more of the rules (REMOVAL_GUARD; default 0.5)', fraction)
    .option('--max-source-shrink-fraction <f>', 'guards.maxSourceShrinkFraction: refuse a source that shrank more since the last record (SOURCE_SHRINK_GUARD; default 0.2)', fraction)
    .option('--force', 'override the guards as sync --force would; the verdicts say what was overridden', false)
    .option('--config <file>', 'with --target: the configuration whose target to plan')
    .option('--target <id>', 'plan this configured target (its resource ID or name) offline, from its last record in the state store')
    .addOption(new Option('--format <format>', 'text, json, markdown (a summary for a pull-request comment), or an export for infrastructure as code (docs/IAC.md)').choices(['text', 'json', 'markdown', ...EXPORT_FORMATS]).default('text'))
    .option('--explain', 'list every rule that admits addresses beyond the source, and into whose space', false)
    .option('--json', 'the same as --format json', false)
    .option('--verbose', 'log more on stderr: each HTTP request\'s method, target, status and time (the service-tags download; a blob state store\'s reads)', false)
    .addOption(quietOption('a --json, --format markdown or export output'))
    .addOption(progressOption())
    .addHelpText('after', '\nExit codes: 0 sync would write this plan; 1 a guard refuses it (as sync would), or the input was bad.')
    .action(async (opts: SourceOptions & PlanCliOptions) => {
      const [{ runPlanCommand }, { startChatter }] = await Promise.all([import('./plan-command.js'), import('./run-output.js')]);
      // Requests and "still waiting" as sync prints them; a plan has no targets to count.
      using chatter = startChatter(io, { verbose: opts.verbose, quiet: opts.quiet, progress: opts.progress, targets: false });
      const out = chatter.io;
      const guards = Object.fromEntries(
        (['maxWidenedPrefix', 'warnWidenedPrefix', 'maxExcessAddresses', 'maxRemovedFraction', 'maxSourceShrinkFraction'] as const).flatMap((k) => (opts[k] === undefined ? [] : [[k, opts[k]]])),
      );
      const code = await runPlanCommand(
        {
          ...(opts.select === undefined ? {} : { select: splitSelectors(opts.select) }),
          kind: opts.kind,
          ...(opts.maxRules === undefined ? {} : { maxRules: opts.maxRules }),
          split31: opts.split31,
          extra: cidrList(opts.extra),
          exclude: cidrList(opts.exclude),
          guards,
          force: opts.force,
          format: opts.json ? 'json' : opts.format,
          explain: opts.explain,
          quiet: opts.quiet,
          ...(opts.config === undefined ? {} : { config: opts.config }),
          ...(opts.target === undefined ? {} : { target: opts.target }),
          serviceTagsGiven: opts.serviceTags !== undefined,
        },
        out,
        (override) => loadSource({ ...opts, ...(override as Partial<SourceOptions>) }, out),
      );
      if (code !== 0) throw new ExitCode(code);
    });

  sourceOptions(
    program
      .command('tags')
      .description('List the service tags of a file (or of this week\'s download), with region, system service and prefix counts.'),
  )
    .option('--search <text>', 'only tags whose name, region or system service contains this text')
    .option('--region <region>', 'only tags of this region, by the file\'s region field (westeurope; any case)')
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (opts: SourceOptions & { search?: string; region?: string; json: boolean }) => {
      const loaded = await loadSource(opts, io);
      runTags(loaded.document, originOf(loaded), opts, io, loaded.warnings);
    });

  program
    .command('sync')
    .description('Reconcile every configured target (Key Vault, Storage account, namespace, perimeter profile, ...): read, plan, apply one guarded write, verify.')
    .option('--config <file>', 'configuration file (default: TAGWALL_CONFIG, TAGWALL_CONFIG_PATH, or TAGWALL_VAULTS + TAGWALL_SELECT)')
    .option('--dry-run', 'plan and report, write nothing', false)
    .option('--json', 'print one JSON object on stdout', false)
    .option('--detailed-exitcode', 'exit 2 when nothing failed but a dry run has changes pending or a target drifted', false)
    .option('--force', 'override the guards for this run (the report says so)', false)
    .option('--vault <id>', 'only this target, configured or discovered (its full resource ID); repeatable', collect)
    .option('--subscription <id>', 'only targets in this subscription (discovery asks Resource Graph for it alone); repeatable', collect)
    .option('--no-alerts', 'do not send or preview alerts (the same as --alerts none)')
    .option('--deadline <duration>', 'start no target after this long (e.g. 90s, 8m, 1h); the rest are skipped (DEADLINE) and go first next run', durationOption)
    .option('--verbose', 'log more on stderr: each HTTP request\'s method, target, status and time', false)
    .option('--out <file>', 'with --dry-run: write the plan (each target\'s base and exact write) for review, to apply with `tagwall apply FILE`')
    .addHelpText(
      'after',
      '\nExit codes: 0 nothing failed or was refused; 1 a target failed or was refused, or the input was bad;\n' +
        '2 (only with --detailed-exitcode) nothing failed, and a dry run has changes pending or a target drifted.',
    );
  alertsOption(outputOptions(program.commands.at(-1)!))
    .action(async (opts: SyncOptions) => {
      // Loaded on demand: the Azure SDKs cost more start-up time than a whole `plan`.
      const { runSyncCommand } = await import('./sync.js');
      const code = await runSyncCommand(opts, io);
      if (code !== 0) throw new ExitCode(code);
    });

  program
    .command('apply <plan>')
    .description('Write exactly a reviewed plan (`sync --dry-run --out FILE`): a target whose rules, posture or plan changed since is refused (PLAN_STALE), as is a plan from another service-tags file.')
    .option('--config <file>', 'the configuration the plan was made with (default: as for sync)')
    .addOption(new Option('--max-age <duration>', 'refuse a plan older than this (PLAN_EXPIRED), e.g. 30m, 8h, 2d').argParser(durationOption).default(DEFAULT_PLAN_MAX_AGE_MS, '24h'))
    .option('--json', 'print one JSON object on stdout', false)
    .option('--no-alerts', 'do not send alerts')
    .option('--verbose', 'log more on stderr: each HTTP request\'s method, target, status and time', false)
    .addHelpText('after', '\nExit codes: 0 every target in the plan written (or already as planned); 1 a target refused (PLAN_STALE, ...) or failed, or the plan is expired or invalid.');
  outputOptions(program.commands.at(-1)!)
    .action(async (file: string, opts: ApplyOptions) => {
      const { runApplyCommand } = await import('./apply.js');
      const code = await runApplyCommand(file, opts, io);
      if (code !== 0) throw new ExitCode(code);
    });

  registerStateCommands(program, io, (code) => {
    throw new ExitCode(code);
  });
  registerAllow(program, io, (code) => new ExitCode(code));

  program
    .command('alerts')
    .description('Alert channels.')
    .command('test')
    .description('Send one test notification through each configured alert channel (the webhook) and report each answer; nothing is remembered, so no real alert is resolved or held back.')
    .option('--config <file>', 'configuration file (default: as for sync)')
    .option('--json', 'print one JSON object on stdout', false)
    .addHelpText('after', '\nExit codes: 0 every channel took the notification; 1 a channel failed, or none is configured (ALERT_CHANNEL_MISSING).')
    .action(async (opts: { config?: string; json: boolean }) => {
      const { runAlertsTest } = await import('./alerts-test.js');
      const code = await runAlertsTest(opts, io);
      if (code !== 0) throw new ExitCode(code);
    });

  program
    .command('emulator')
    .description('Run the local HTTPS ARM emulator (Key Vault, perimeters and the other firewall kinds), for trying tagwall and for tests.')
    .option('--port <n>', 'port to listen on (default: a free one)', (v) => {
      if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('must be a port number.');
      return Number(v);
    })
    .option('--seed <file>', 'JSON seed file with the vaults, perimeters and other resources to start with (default: the sample: two vaults, a Storage account, a perimeter)')
    .option('--empty', 'start with nothing seeded', false)
    .option('--state-dir <dir>', 'where the emulator keeps its CA', '.tagwall/emulator')
    .option('--old-api', 'behave like the older API: refuse /31 and /32 CIDRs', false)
    .option('--latency-ms <n>', 'wait this long before answering each ARM and Resource Graph request, as a far-away Azure would (default 0)', (v) => {
      if (!/^\d+$/.test(v) || Number(v) > 60_000) throw new InvalidArgumentError('must be a whole number of milliseconds, at most 60000.');
      return Number(v);
    })
    .option('--env-file <file>', 'where to write the shell settings that point tagwall at the emulator (default: <state-dir>/env)')
    .action(async (opts: { port?: number; seed?: string; empty: boolean; stateDir: string; oldApi: boolean; latencyMs?: number; envFile?: string }) => {
      const { runEmulatorCommand } = await import('../emulator/command.js');
      await runEmulatorCommand(opts, io);
    });

  program
    .command('demo')
    .description('Try tagwall with no Azure account: the full loop on a built-in emulator (what `npm start` runs), or `sync --config FILE` when given one.')
    .option('--config <file>', 'run `sync` with this configuration instead of the demo')
    .allowUnknownOption(false)
    .action(async (opts: { config?: string }) => {
      if (opts.config !== undefined) {
        const { runSyncCommand } = await import('./sync.js');
        const code = await runSyncCommand({ config: opts.config, dryRun: false, json: false, detailedExitcode: false, force: false, alerts: true, verbose: false }, io);
        if (code !== 0) throw new ExitCode(code);
        return;
      }
      const { runDemo } = await import('./demo.js');
      const code = await runDemo(io);
      if (code !== 0) throw new ExitCode(code);
    });

  // Point at the right help after a usage error, instead of printing all of it.
  program.showHelpAfterError('(tagwall --help lists the commands)');
  for (const cmd of program.commands) cmd.showHelpAfterError(`(tagwall ${cmd.name()} --help lists the options)`);

  return program;
}

/** Runs the CLI and returns the exit code; never calls process.exit itself. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const program = createProgram(io);
  // Whether the command that failed promised JSON on stdout: then its failure is JSON too.
  let json = false;
  program.hook('preAction', (_program, action) => {
    const opts = action.opts<{ json?: boolean; format?: string }>();
    json = opts.json === true || opts.format === 'json';
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof ExitCode) return e.code;
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      return e.exitCode === 0 ? 0 : 1;
    }
    reportRunError(e, json, io);
    return 1;
  }
}

/**
 * A failure of the run as a whole (bad configuration, no service tags, state locked), as
 * opposed to one target's, which the report carries: its code first on stderr, and with --json
 * one object on stdout, so a pipeline tells "fix the configuration" from "Azure refused a target".
 */
function reportRunError(e: unknown, json: boolean, io: CliIO): void {
  const code = e instanceof TagwallError ? e.code : 'INTERNAL';
  writeLine(io.stderr, `tagwall: ${code}: ${describeError(e)}`);
  if (!json) return;
  const details = e instanceof TagwallError ? e.details : [];
  const message = e instanceof Error ? e.message : String(e);
  writeLine(io.stdout, JSON.stringify({ error: { code, message, ...(details.length === 0 ? {} : { details }) } }));
}
