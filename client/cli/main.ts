// What the `codex-auth` bin (bin.ts) runs for every command. `codex-auth token` with no option is
// on the hot path of every tool that runs `Authorization: Bearer $(codex-auth token)`: it runs at
// once, with each option's default, and loads only the framing and the connection. Any other
// command line goes to command-line.ts, which checks it against the command table;
// scripts/bundle.mjs bundles the two apart, and the handlers of the other commands apart again
// (handlers.ts). See docs/performance.md.
import { flagsFrom } from './flags.js';
import { exitWith, settle } from './output.js';
import { token } from './token.js';

const argv = process.argv.slice(2);
exitWith(argv.length === 1 && argv[0] === 'token' ? settle(token(flagsFrom({})), 'token') : import('./command-line.js').then(({ runCommandLine }) => runCommandLine(argv)));
