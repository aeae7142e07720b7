import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { describeError, TagwallError } from '../core/errors.js';
import { CLOUDS } from '../core/service-tags.js';
import { splitSelectors } from '../core/selection.js';
import { loadServiceTagFile } from '../sources/file.js';
import { tagwallVersion } from '../version.js';
import { writeLine, type CliIO } from './io.js';
import { runPlan } from './plan.js';
import { runTags } from './tags.js';

/** Key Vault's hard limit on IP rules. */
export const KEY_VAULT_MAX_RULES = 1000;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function ruleBudget(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number.');
  const n = Number(value);
  if (n < 1 || n > KEY_VAULT_MAX_RULES) throw new InvalidArgumentError(`must be between 1 and ${KEY_VAULT_MAX_RULES} (Key Vault's limit).`);
  return n;
}

function cidrList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** Exit codes: 0 fine, 1 failure or refused input; `sync --detailed-exitcode` adds 2. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export function createProgram(io: CliIO): Command {
  const program = new Command('tagwall')
    .description('Keep Azure Key Vault firewalls in step with Azure Service Tags.')
    .version(tagwallVersion(), '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();

  program
    .command('plan')
    .description('Compute the optimal IPv4 allowlist for a selection of service tags, without touching any vault.')
    .option('--service-tags <file>', 'service-tags file (.json or .json.gz)')
    .option('--select <selectors>', 'tags to allow: Name, Name.*, *, or Service@region; comma-separated, repeatable', collect)
    .option('--max-rules <n>', 'rule budget', ruleBudget, KEY_VAULT_MAX_RULES)
    .option('--split-31', 'never emit a /31 (old Key Vault API, Storage accounts)', false)
    .option('--extra <cidrs>', 'extra IPv4 CIDRs to allow, comma-separated, repeatable', collect)
    .option('--exclude <cidrs>', 'IPv4 CIDRs never to allow, comma-separated, repeatable', collect)
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (opts: { serviceTags?: string; select?: string[]; maxRules: number; split31: boolean; extra?: string[]; exclude?: string[]; json: boolean }) => {
      if (opts.select === undefined) throw new TagwallError('USAGE', 'plan needs --select (for example --select AzureDevOps,LogicApps@westeurope); `tagwall tags` lists the tags');
      if (opts.serviceTags === undefined) throw new TagwallError('USAGE', 'plan needs --service-tags <file>');
      const doc = await loadServiceTagFile(opts.serviceTags);
      runPlan(
        doc,
        { path: opts.serviceTags },
        { select: splitSelectors(opts.select), maxRules: opts.maxRules, split31: opts.split31, extra: cidrList(opts.extra), exclude: cidrList(opts.exclude), json: opts.json },
        io,
      );
    });

  program
    .command('tags')
    .description('List the service tags in a file, with region, system service and prefix counts.')
    .option('--service-tags <file>', 'service-tags file (.json or .json.gz)')
    .option('--search <text>', 'only tags whose name, region or system service contains this text')
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (opts: { serviceTags?: string; search?: string; json: boolean }) => {
      if (opts.serviceTags === undefined) throw new TagwallError('USAGE', 'tags needs --service-tags <file>');
      runTags(await loadServiceTagFile(opts.serviceTags), opts, io);
    });

  void Option;
  void CLOUDS;
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
