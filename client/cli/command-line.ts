// Every codex-auth command line but the bare `codex-auth token` (which the bin runs itself):
// checked against the command table (commands.ts), then the command's handler runs. Bundled apart
// from the bin (scripts/bundle.mjs), with its own copy of the error classes, so it settles what
// it runs itself.
import { findCommand, parseCommandLine } from './args.js';
import { settle } from './output.js';

async function run(argv: string[]): Promise<number> {
  const commandLine = parseCommandLine(argv);
  if (commandLine.version && !commandLine.help) {
    process.stdout.write(`${(await import('../../shared/version.js')).VERSION}\n`);
    return 0;
  }
  if (commandLine.help || commandLine.words.length === 0) return (await import('./help.js')).printHelp();
  const { command, args } = findCommand(commandLine);
  return settle(command.run({ command: command.name, args, flags: commandLine.flags, passed: commandLine.passed ?? [] }), command.name);
}

/** The exit status of the command `argv` names; a failure is one line on stderr. */
export function runCommandLine(argv: string[]): Promise<number> {
  return settle(run(argv));
}
