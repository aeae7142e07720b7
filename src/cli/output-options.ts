import { Option, type Command } from 'commander';
import { ALERTS_MODES } from './sync-options.js';

/**
 * What sync and apply print, as options: one place, so both say the same. --quiet keeps stderr
 * to errors; --verbose adds each request; --progress asks for "still waiting" lines off a terminal.
 */
export function outputOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--format <format>', 'text, json (the same as --json), or markdown: a summary for a pull-request comment, cut to fit GitHub\'s 65,536 characters').choices(['text', 'json', 'markdown']).default('text'))
    .addOption(quietOption('a --json or --format markdown report'))
    .addOption(progressOption());
}

/** --quiet, also for a command with its own --format (`plan`); `printed` names what it still prints. */
export function quietOption(printed: string): Option {
  return new Option('--quiet', `print only errors (and set the exit code); ${printed} is still printed`).default(false).conflicts(['verbose', 'progress']);
}

export function progressOption(): Option {
  return new Option('--progress', 'print "still waiting" on stderr after 5 s of silence even when stderr is not a terminal (on a terminal it is the default)').default(false);
}

/** `--alerts` on sync; `--no-alerts` stays, as `--alerts none`. */
export function alertsOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--alerts <mode>', 'send: page as the timer does (log and webhook, each problem once), also on a dry run (a drift check); preview: log what would be sent; none (default: send, or preview with --dry-run)').choices([...ALERTS_MODES]),
  );
}
