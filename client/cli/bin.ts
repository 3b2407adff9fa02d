#!/usr/bin/env node
// The `codex-auth` bin, the one entry point of every command: the command line is checked
// against the command table (commands.ts) and the command's handler runs. It loads only the
// table, the command line, the framing and the connection: enough for `codex-auth token`, which
// sits on the hot path of every tool that runs `Authorization: Bearer $(codex-auth token)`. The
// other handlers load the full CLI (handlers.ts) when they run. scripts/bundle.mjs bundles the
// two apart; see docs/performance.md.
import { findCommand, parseCommandLine } from './args.js';
import { exitWith, settle } from './output.js';

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

exitWith(run(process.argv.slice(2)));
