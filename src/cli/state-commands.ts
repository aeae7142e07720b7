import { Option, type Command } from 'commander';
import { FIREWALL_KINDS } from '../targets/kinds.js';
import type { CliIO } from './io.js';

/**
 * `tagwall state show|forget|adopt` and `tagwall offboard`, registered on the program (the
 * commands' code in ./state.ts is loaded only when one of them runs). `exit` ends a command with
 * a non-zero exit code.
 */
export function registerStateCommands(program: Command, io: CliIO, exit: (code: number) => never): void {
  // From the kinds' facts, so the help names every kind it applies to as kinds are added.
  const titles = (has: (k: (typeof FIREWALL_KINDS)[number]) => boolean) => FIREWALL_KINDS.filter(has).map((k) => k.title).join(', ');
  const configOption = (cmd: Command): Command =>
    cmd
      .option('--config <file>', 'configuration file (default: as for sync)')
      .option('--json', 'print one JSON object on stdout', false)
      .option('--verbose', 'log more on stderr', false);
  const done = (code: number): void => {
    if (code !== 0) exit(code);
  };

  const state = program
    .command('state')
    .description("What tagwall owns on a target and why (show); drop (forget) or extend (adopt) that ownership by hand.");

  configOption(state.command('show <id>').description("List the rules tagwall owns on a target (its resource ID or, for a configured target, its name) and why each is tagwall's, its pending write intent, and its last write and check."))
    .addHelpText('after', `\nReads the record only (without the state file's lock); a kind whose rules carry their owner in their names (${titles((k) => k.ownedByName !== undefined)}) is read too.\nExit codes: 0 shown; 1 the target is unknown (TARGET_UNKNOWN) or the record cannot be read.`)
    .action(async (id: string, opts: { config?: string; json: boolean; verbose: boolean }) => {
      const { runStateShow } = await import('./state.js');
      done(await runStateShow(id, opts, io));
    });

  configOption(state.command('forget <id>').description("Delete tagwall's record of a target: tagwall then owns nothing there, never removes the rules it wrote, and treats them as a person's."))
    .option('-y, --yes', 'do not ask (required when stdin is not a terminal)', false)
    .option('--force', 'forget even while a write intent is pending (STATE_INTENT_PENDING otherwise)', false)
    .addHelpText('after', '\nExit codes: 0 forgotten (or there was no record); 1 refused (STATE_INTENT_PENDING, CONFIRMATION_REQUIRED) or the target is unknown (TARGET_UNKNOWN).')
    .action(async (id: string, opts: { config?: string; json: boolean; verbose: boolean; yes: boolean; force: boolean }) => {
      const { runStateForget } = await import('./state.js');
      done(await runStateForget(id, opts, io));
    });

  configOption(state.command('adopt <id>').description("Make tagwall the owner of the rules on a configured target that its configuration wants (only those), so sync removes them once they are no longer wanted."))
    .option('--dry-run', 'show what would be adopted, save nothing', false)
    .option('-y, --yes', 'do not ask (required when stdin is not a terminal)', false)
    .addHelpText('after', '\nExit codes: 0 adopted (or nothing to adopt, or a dry run); 1 refused (ADOPT_NAME_OWNED, STATE_INTENT_PENDING, CONFIRMATION_REQUIRED) or the target is unknown (TARGET_UNKNOWN).')
    .action(async (id: string, opts: { config?: string; json: boolean; verbose: boolean; yes: boolean; dryRun: boolean }) => {
      const { runStateAdopt } = await import('./state.js');
      done(await runStateAdopt(id, opts, io));
    });

  configOption(
    program
      .command('offboard <id>')
      .description("Remove exactly tagwall's rules from a target (never a person's, never an entry special to the kind) in one guarded write, then delete its record."),
  )
    .option('--dry-run', 'show what would be removed, write nothing', false)
    .option('-y, --yes', 'do not ask (required when stdin is not a terminal)', false)
    .option('--force', 'offboard a target the configuration still lists (OFFBOARD_TARGET_CONFIGURED otherwise; the next run adds its rules back)', false)
    .addOption(new Option('--allow-open', `remove the last rule where the IP list is the switch (${titles((k) => k.ipListIsSwitch === true)}), opening the firewall to every network`).default(false))
    .addHelpText('after', '\nExit codes: 0 offboarded, nothing to do, or a dry run that would be allowed; 1 refused (OFFBOARD_TARGET_CONFIGURED, OFFBOARD_WOULD_OPEN_FIREWALL, VAULT_BUSY, CONFIRMATION_REQUIRED), failed, or the target is unknown (TARGET_UNKNOWN).')
    .action(async (id: string, opts: { config?: string; json: boolean; verbose: boolean; yes: boolean; dryRun: boolean; force: boolean; allowOpen: boolean }) => {
      const { runOffboard } = await import('./state.js');
      done(await runOffboard(id, opts, io));
    });
}
