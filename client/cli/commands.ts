// The command table: every codex-auth command with its options, its help lines and its handler.
// The command line is checked against it (args.ts), `--help` is printed from it (help.ts), and
// "did you mean" and shell completion read it. A new command is one entry here and a handler.
//
// `token`'s handler is here (and the bin runs a bare `codex-auth token` without the table); every
// other handler is in handlers.ts, loaded only for those commands: `token` is on the hot path of
// every tool that runs `Authorization: Bearer $(codex-auth token)` (scripts/bundle.mjs bundles
// them apart).
import type { Flags } from './flags.js';
import type { HandlerName } from './handlers.js';
import { token } from './token.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** What its value is, in help: `--socket PATH`. */
  value?: string;
  /** Its line in the Options list of `--help`; the rest are shown with their commands. */
  help?: string;
}

/** Every option codex-auth knows. */
export const OPTIONS = {
  socket: { type: 'string', value: 'PATH', help: 'daemon socket (env CODEXD_SOCKET)' },
  json: { type: 'boolean', help: 'machine-readable output (status, token, accounts, usage, daemon status, logs, config list)' },
  'no-browser': { type: 'boolean', help: 'print the login URL without opening a browser' },
  'force-refresh': { type: 'boolean', help: 'token: refresh now, even if the token is not due' },
  'no-autostart': { type: 'boolean', help: 'never start codexd (env CODEXD_NO_AUTOSTART=1)' },
  'dry-run': { type: 'boolean', help: 'service: show what would change, change nothing' },
  follow: { type: 'boolean', short: 'f', help: 'logs: keep printing new lines' },
  lines: { type: 'string', short: 'n', value: 'N', help: 'logs: only the last N entries (with -f: 10 unless given)' },
  'remote-uid': { type: 'string', value: 'UID', help: 'remote ssh-config: your uid on HOST (default: the same as here)' },
  account: { type: 'string', value: 'NAME', help: 'token, usage, app-server: that account instead of the active one' },
  codex: { type: 'string', value: 'PATH', help: 'app-server: the Codex to run (env CODEXD_CODEX; default: codex)' },
  offline: { type: 'boolean', help: 'doctor: leave out the checks that use the network' },
  env: { type: 'string', value: 'VAR', help: 'exec: the environment variable that gets the credential (default for an API key: OPENAI_API_KEY)' },
  help: { type: 'boolean', short: 'h', help: 'this help' },
  version: { type: 'boolean', help: 'print the version' },
  'device-auth': { type: 'boolean' },
  'with-api-key': { type: 'boolean' },
  'api-key': { type: 'string', value: 'KEY' },
  cancel: { type: 'boolean' },
  name: { type: 'string', value: 'NAME' },
  all: { type: 'boolean' },
} as const satisfies Record<string, OptionSpec>;

export type Option = keyof typeof OPTIONS;

/** What a handler gets: the command's name, the words after it, the options, and the words after `--`. */
export interface Call {
  command: string;
  args: string[];
  flags: Flags;
  passed: string[];
}

export interface Command {
  /** The words after `codex-auth`: `status`, `daemon stop`. */
  name: string;
  /** Its arguments as help shows them, `[...]` when optional: `NAME` (an account's, checked before anything is sent), `[NAME]`, `KEY VALUE`. */
  args?: string;
  /** Where the arguments come from, said when one is missing. */
  argsFrom?: string;
  /** Who gets the words after `--`, for a command that takes them, and what they are: [`codex app-server`, 'ARGS']. */
  passes?: readonly [string, string];
  /** Left out of `--help` and of completion (a helper for completion scripts). */
  hidden?: boolean;
  /** The options it takes, beyond --help and --version; any other is a usage error. */
  options: readonly Option[];
  /** Its lines in `--help`: what to type after `codex-auth`, and what it does. */
  help: ReadonlyArray<readonly [string, string]>;
  run(call: Call): Promise<number>;
}

/** A handler of the full CLI, loaded with it (handlers.ts). */
function full(name: HandlerName): Command['run'] {
  return async (call) => (await import('./handlers.js')).runHandler(name, call);
}

const CONNECT: Option[] = ['socket', 'no-autostart'];

export const COMMANDS: readonly Command[] = [
  {
    name: 'login',
    options: [...CONNECT, 'device-auth', 'with-api-key', 'api-key', 'no-browser', 'cancel', 'name'],
    help: [
      ['login', 'sign in with ChatGPT in the browser (on a terminal, first asks: browser, device code, or API key)'],
      ['login --device-auth', 'sign in with a one-time code (SSH and headless machines)'],
      ['login --with-api-key', 'read an API key from stdin'],
      ['login --api-key KEY', 'store KEY (it ends up in your shell history)'],
      ['login --cancel', 'cancel the pending login, whoever started it'],
      ['login --name NAME', 'name the account the login adds (default: its email); a login to an account codexd has updates it in place'],
    ],
    run: full('login'),
  },
  { name: 'login status', options: [...CONNECT, 'json'], help: [['login status', 'same as status']], run: full('status') },
  { name: 'status', options: [...CONNECT, 'json'], help: [['status', 'who is logged in, how, and when the token expires']], run: full('status') },
  {
    name: 'token',
    options: [...CONNECT, 'json', 'force-refresh', 'account'],
    help: [
      ['token', 'print the bearer credential (refreshed first when due)'],
      ['token --account NAME', 'the credential of account NAME, without switching'],
    ],
    run: (call) => token(call.flags),
  },
  { name: 'accounts', options: [...CONNECT, 'json'], help: [['accounts [--json]', 'every account: name, type, email, plan, token expiry, state, and 5-hour / weekly usage when known']], run: full('accounts') },
  {
    name: 'usage',
    options: [...CONNECT, 'json', 'account', 'all'],
    help: [['usage [--account NAME | --all]', "the active account's 5-hour and weekly usage, when each resets, and credits (NAME's, or every account's)"]],
    run: full('usage'),
  },
  {
    name: 'switch',
    args: 'NAME',
    argsFrom: '`codex-auth accounts` lists the names',
    options: CONNECT,
    help: [['switch NAME', 'make account NAME the one Codex uses (auth.json)']],
    run: full('switch'),
  },
  {
    name: 'logout',
    args: '[NAME]',
    options: [...CONNECT, 'all'],
    help: [['logout [NAME | --all]', 'revoke the active account (or NAME, or every account; best effort) and remove it']],
    run: full('logout'),
  },
  { name: 'daemon start', options: CONNECT, help: [['daemon start', 'start codexd (commands start it on demand anyway)']], run: full('daemonStart') },
  { name: 'daemon stop', options: CONNECT, help: [['daemon stop', 'stop codexd (a connected editor starts it again with its next request)']], run: full('daemonStop') },
  { name: 'daemon restart', options: CONNECT, help: [['daemon restart', 'stop codexd and start it again (after a settings change)']], run: full('daemonRestart') },
  { name: 'daemon status', options: [...CONNECT, 'json'], help: [['daemon status', 'whether codexd runs: pid, uptime, socket, log']], run: full('daemonStatus') },
  {
    name: 'logs',
    options: ['socket', 'follow', 'lines', 'json'],
    help: [['logs [-f] [--json]', "the daemon's log, readable (-f: follow; -n N: the last N entries; from the journal under systemd)"]],
    run: full('logs'),
  },
  { name: 'service install', options: ['dry-run'], help: [['service install', 'install the systemd user units, the launchd agent or the Windows logon task (--dry-run)']], run: full('serviceInstall') },
  { name: 'service uninstall', options: ['dry-run'], help: [['service uninstall', 'remove them (--dry-run)']], run: full('serviceUninstall') },
  { name: 'config list', options: ['json', 'all'], help: [['config list [--all]', 'the settings file (--all: every setting, with the defaults)']], run: full('configList') },
  { name: 'config get', args: 'KEY', options: [], help: [['config get KEY', 'one setting']], run: full('configGet') },
  { name: 'config set', args: 'KEY VALUE', options: [], help: [['config set KEY VALUE', 'change a setting (checked first)']], run: full('configSet') },
  { name: 'config unset', args: 'KEY', options: [], help: [['config unset KEY', 'remove a setting: its default applies']], run: full('configUnset') },
  {
    name: 'remote ssh-config',
    args: 'HOST',
    options: ['socket', 'remote-uid'],
    help: [
      [
        'remote ssh-config HOST',
        "print the ~/.ssh/config lines that forward codexd's restricted socket to HOST, where a follower codexd uses it: access tokens there, never the refresh token (--remote-uid UID: your uid on HOST, when it is not the same as here)",
      ],
    ],
    run: full('remoteSshConfig'),
  },
  {
    name: 'remote container',
    options: ['socket'],
    help: [['remote container', 'print the docker run and devcontainer.json lines that mount the restricted socket into a container']],
    run: full('remoteContainer'),
  },
  {
    name: 'app-server',
    passes: ['`codex app-server`', 'ARGS'],
    options: [...CONNECT, 'account', 'codex'],
    help: [['app-server [-- ARGS]', "run `codex app-server ARGS` logged in with codexd's token, for editors (--account NAME: that account; --codex PATH: that Codex)"]],
    run: full('appServer'),
  },
  {
    name: 'doctor',
    options: ['socket', 'json', 'offline'],
    help: [['doctor', 'check the daemon, socket, CODEX_HOME, login, keyring, network, clock, login ports, service and Codex, and say what to do about each problem (--json; --offline: no network checks)']],
    run: full('doctor'),
  },
  {
    name: 'completion',
    args: 'SHELL',
    argsFrom: 'bash, zsh or fish',
    options: [],
    help: [['completion bash|zsh|fish', 'print a shell completion script (e.g. source <(codex-auth completion bash))']],
    run: full('completion'),
  },
  {
    name: 'exec',
    passes: ['the command it runs', 'CMD [ARGS...]'],
    options: [...CONNECT, 'account', 'env'],
    help: [['exec -- CMD [ARGS...]', 'run CMD with the credential in an environment variable (OPENAI_API_KEY for an API key; --env VAR, required for a ChatGPT token; --account NAME), never in its arguments. Read once, at start: a tool that outlives its token should run `codex-auth token` each time instead (Codex\'s provider auth command does)']],
    run: full('exec'),
  },
  // For completion scripts: account names from a running codexd, never starting one. Not in --help.
  { name: '__complete accounts', hidden: true, options: ['socket'], help: [], run: async ({ flags }) => (await import('./complete-accounts.js')).completeAccounts(flags.socket) },
  { name: 'help', options: [], help: [['help', 'this help']], run: async () => (await import('./help.js')).printHelp() },
];
