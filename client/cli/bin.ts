#!/usr/bin/env node
// The `codex-auth` bin. `codex-auth token` runs here, loading only the command line, the
// framing and the connection: it sits on the hot path of every tool that runs
// `Authorization: Bearer $(codex-auth token)`. Every other command, and anything this does not
// recognise as a plain `token` call (help, a parse error), goes to the full CLI in main.ts.
// scripts/bundle.mjs bundles this file and main.ts separately; see docs/performance.md.
import { checkApplies, parseCommandLine, type CommandLine } from './args.js';
import { exitWith, token } from './token.js';

function tokenCall(argv: string[]): CommandLine | null {
  try {
    const commandLine = parseCommandLine(argv);
    const [name, ...rest] = commandLine.command;
    if (name !== 'token' || rest.length > 0 || commandLine.help || commandLine.version) return null;
    checkApplies('token', undefined, commandLine.given);
    return commandLine;
  } catch {
    return null; // main.ts reports it
  }
}

const call = tokenCall(process.argv.slice(2));
if (call) exitWith(token(call.flags));
else void import('./main.js');
