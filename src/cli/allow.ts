import { InvalidArgumentError, type Command } from 'commander';
import { TagwallError } from '../core/errors.js';
import { MAX_GRANT_MS, parseGrantDuration } from '../core/temporary.js';
import { writeLine, type CliIO } from './io.js';

/**
 * `tagwall allow <cidr> --for 2h --target <id>`: a pipeline agent allows its own address on one
 * configured target for the length of a job (src/run/allow.ts); `--list` shows the grants held.
 */

interface AllowCliOptions {
  for?: number;
  target?: string;
  note?: string;
  config?: string;
  list: boolean;
  json: boolean;
  verbose: boolean;
}

function grantDuration(value: string): number {
  const ms = parseGrantDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('must be a duration such as 30m, 2h or 1d.');
  if (ms > MAX_GRANT_MS) throw new InvalidArgumentError(`must be at most ${MAX_GRANT_MS / 86_400_000}d: a grant is for the length of a job.`);
  return ms;
}

export function registerAllow(program: Command, io: CliIO, exit: (code: number) => Error): void {
  program
    .command('allow [cidr]')
    .description('Allow an IPv4 address (or CIDR) on one configured target for a while (--for), e.g. a pipeline agent\'s own address for the length of a job; every later run keeps it until it expires, then removes it.')
    .option('--for <duration>', 'how long: 30m, 2h, 1d (at most 7d)', grantDuration)
    .option('--target <id>', 'the configured target: its resource ID, or its name')
    .option('--note <text>', 'why, shown in the report when it expires (e.g. the pipeline run)')
    .option('--config <file>', 'configuration file (default: as for sync); the grant is kept in its state store')
    .option('--list', 'list the grants held for the configured targets instead', false)
    .option('--json', 'print one JSON object on stdout', false)
    .option('--verbose', 'log more on stderr', false)
    .addHelpText('after', '\nExit codes: 0 the address is allowed until the time printed; 1 it is not (GRANT_NO_ROOM, GRANT_NOT_APPLIED, VAULT_NOT_CONFIGURED, a bad address or duration).')
    .action(async (cidr: string | undefined, opts: AllowCliOptions) => {
      const code = await runAllowCommand(cidr, opts, io);
      if (code !== 0) throw exit(code);
    });
}

async function runAllowCommand(cidr: string | undefined, opts: AllowCliOptions, io: CliIO): Promise<number> {
  // Loaded on demand, as sync's are: the Azure SDKs cost more start-up time than the rest of the CLI.
  const [{ loadConfig }, { allowTemporary, listGrants }, { cliLogger }, { renderRunText }] = await Promise.all([
    import('../config/load.js'),
    import('../run/allow.js'),
    import('./sync.js'),
    import('../run/text-report.js'),
  ]);
  const config = await loadConfig({ ...(opts.config === undefined ? {} : { file: opts.config }), env: io.env, cwd: io.cwd });
  const runtime = { env: io.env, logger: cliLogger(io, opts.verbose) };
  if (opts.list) {
    const grants = await listGrants(config, runtime);
    if (opts.json) writeLine(io.stdout, JSON.stringify({ grants }));
    else if (grants.length === 0) writeLine(io.stdout, `no grants held for the ${config.targets.length} configured target(s) in ${config.state.store} state`);
    else for (const g of grants) writeLine(io.stdout, `${g.target}  ${g.cidr}  until ${g.until}${g.note === undefined ? '' : `  ${g.note}`}`);
    return 0;
  }
  const missing = [cidr === undefined && '<cidr>', opts.for === undefined && '--for', opts.target === undefined && '--target'].filter((x): x is string => x !== false);
  if (missing.length > 0) throw new TagwallError('USAGE', `allow needs ${missing.join(', ')} (e.g. tagwall allow 145.14.56.7 --for 1h --target <resource ID or name>)`);
  const result = await allowTemporary(config, { target: opts.target!, cidr: cidr!, forMs: opts.for!, ...(opts.note === undefined ? {} : { note: opts.note }) }, runtime);
  if (opts.json) {
    writeLine(io.stdout, JSON.stringify({ ...(result.refused === undefined ? { grant: result.grant } : { error: result.refused }), target: result.target, report: result.report }));
  } else writeLine(io.stdout, renderRunText(result.report));
  if (result.refused !== undefined) {
    writeLine(io.stderr, `tagwall: ${result.refused.code}: ${result.refused.message}`);
    return 1;
  }
  writeLine(io.stderr, `allowed ${result.grant.cidr} on ${result.target} until ${result.grant.until}`);
  return 0;
}
