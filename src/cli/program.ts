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
import { runPlan, type ServiceTagsOrigin } from './plan.js';
import { runTags } from './tags.js';
import type { SyncOptions } from './sync.js';

/** Key Vault's hard limit on IP rules. */
export const KEY_VAULT_MAX_RULES = 1000;

function widenedPrefix(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 32) throw new InvalidArgumentError('must be a prefix length from 0 to 32 (0: no bound).');
  return Number(value);
}

/** `90s`, `8m`, `1h` (or plain seconds) to milliseconds. */
function parseDuration(value: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(value.trim());
  if (m === null || Number(m[1]) === 0) throw new InvalidArgumentError('must be a duration such as 90s, 8m or 1h.');
  return Number(m[1]) * (m[2] === 'h' ? 3_600_000 : m[2] === 'm' ? 60_000 : 1_000);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function ruleBudget(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number.');
  const n = Number(value);
  if (n < 1 || n > KEY_VAULT_MAX_RULES) throw new InvalidArgumentError(`must be between 1 and ${KEY_VAULT_MAX_RULES} (Key Vault's limit).`);
  return n;
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
  const meter = createProgressLine(io.stderr, 'Downloading service tags');
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
      .description('Compute the optimal IPv4 allowlist for a selection of service tags, without touching any vault.'),
  )
    .option('--select <selectors>', 'the tags to allow (required): Name, Name.*, *, or Service@region; comma-separated, repeatable', collect)
    .option('--max-rules <n>', 'rule budget', ruleBudget, KEY_VAULT_MAX_RULES)
    .option('--split-31', 'never emit a /31 (old Key Vault API, Storage accounts)', false)
    .option('--extra <cidrs>', 'extra IPv4 CIDRs to allow, comma-separated, repeatable', collect)
    .option('--exclude <cidrs>', 'IPv4 CIDRs never to allow, comma-separated, repeatable', collect)
    .option('--max-widened-prefix <n>', 'no widened rule wider than this prefix length; 0 turns the bound off', widenedPrefix, 12)
    .option('--explain', 'list every rule that admits addresses beyond the source, and into whose space', false)
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (opts: SourceOptions & { select?: string[]; maxRules: number; split31: boolean; extra?: string[]; exclude?: string[]; json: boolean; maxWidenedPrefix: number; explain: boolean }) => {
      if (opts.select === undefined) throw new TagwallError('USAGE', 'plan needs --select (for example --select AzureDevOps,LogicApps@westeurope); `tagwall tags` lists the tags');
      const selectors = splitSelectors(opts.select);
      const loaded = await loadSource(opts, io);
      runPlan(
        loaded.document,
        originOf(loaded),
        {
          select: selectors,
          maxRules: opts.maxRules,
          split31: opts.split31,
          extra: cidrList(opts.extra),
          exclude: cidrList(opts.exclude),
          json: opts.json,
          maxWidenedPrefix: opts.maxWidenedPrefix,
          explain: opts.explain,
        },
        io,
        loaded.warnings,
      );
    });

  sourceOptions(
    program
      .command('tags')
      .description('List the service tags of a file (or of this week\'s download), with region, system service and prefix counts.'),
  )
    .option('--search <text>', 'only tags whose name, region or system service contains this text')
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (opts: SourceOptions & { search?: string; json: boolean }) => {
      const loaded = await loadSource(opts, io);
      runTags(loaded.document, originOf(loaded), opts, io, loaded.warnings);
    });

  program
    .command('sync')
    .description('Reconcile every configured target (vault, account, namespace, profile, ...): read, plan, apply one guarded write, verify.')
    .option('--config <file>', 'configuration file (default: TAGWALL_CONFIG, TAGWALL_CONFIG_PATH, or TAGWALL_VAULTS + TAGWALL_SELECT)')
    .option('--dry-run', 'plan and report, write nothing', false)
    .option('--json', 'print one JSON object on stdout', false)
    .option('--detailed-exitcode', 'exit 2 when nothing failed but a dry run has changes pending or a vault drifted', false)
    .option('--force', 'override the guards for this run (the report says so)', false)
    .option('--vault <id>', 'only this target, configured or discovered (its full resource ID); repeatable', collect)
    .option('--subscription <id>', 'only targets in this subscription (discovery asks Resource Graph for it alone); repeatable', collect)
    .option('--no-alerts', 'do not send or preview alerts')
    .option('--deadline <duration>', 'start no vault after this long (e.g. 90s, 8m, 1h); the rest are skipped (DEADLINE) and go first next run', parseDuration)
    .option('--verbose', 'log more on stderr', false)
    .addHelpText(
      'after',
      '\nExit codes: 0 nothing failed or was refused; 1 a vault failed or was refused, or the input was bad;\n' +
        '2 (only with --detailed-exitcode) nothing failed, and a dry run has changes pending or a vault drifted.',
    )
    .action(async (opts: SyncOptions) => {
      // Loaded on demand: the Azure SDKs cost more start-up time than a whole `plan`.
      const { runSyncCommand } = await import('./sync.js');
      const code = await runSyncCommand(opts, io);
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
    .command('demo', { hidden: true })
    .description('What `npm start` runs: the full loop on the built-in emulator, or `sync --config FILE` when given one.')
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
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof ExitCode) return e.code;
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      return e.exitCode === 0 ? 0 : 1;
    }
    writeLine(io.stderr, `tagwall: ${describeError(e)}`);
    return 1;
  }
}
