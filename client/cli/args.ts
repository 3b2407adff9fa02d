// codex-auth's command line, parsed and checked the same way by the full CLI (main.ts) and by
// the `token` fast path (bin.ts).
import { parseArgs } from 'node:util';
import { UsageError } from './usage.js';

export interface Flags {
  socket?: string | undefined;
  json: boolean;
  deviceAuth: boolean;
  withApiKey: boolean;
  apiKey?: string | undefined;
  noBrowser: boolean;
  cancel: boolean;
  forceRefresh: boolean;
  noAutostart: boolean;
  dryRun: boolean;
  follow: boolean;
  name?: string | undefined;
  all: boolean;
  account?: string | undefined;
  remoteUid?: string | undefined;
  codex?: string | undefined;
}

const OPTIONS = {
  socket: { type: 'string' },
  json: { type: 'boolean' },
  'device-auth': { type: 'boolean' },
  'with-api-key': { type: 'boolean' },
  'api-key': { type: 'string' },
  'no-browser': { type: 'boolean' },
  cancel: { type: 'boolean' },
  'force-refresh': { type: 'boolean' },
  'no-autostart': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  follow: { type: 'boolean', short: 'f' },
  name: { type: 'string' },
  all: { type: 'boolean' },
  account: { type: 'string' },
  'remote-uid': { type: 'string' },
  codex: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

export type Option = keyof typeof OPTIONS;

/** The options each command takes, beyond --help and --version; any other is a usage error. */
const CONNECT: Option[] = ['socket', 'no-autostart'];
const APPLIES: Record<string, Option[]> = {
  login: [...CONNECT, 'device-auth', 'with-api-key', 'api-key', 'no-browser', 'cancel', 'name'],
  'login status': [...CONNECT, 'json'],
  status: [...CONNECT, 'json'],
  token: [...CONNECT, 'json', 'force-refresh', 'account'],
  logout: [...CONNECT, 'all'],
  accounts: [...CONNECT, 'json'],
  switch: CONNECT,
  'daemon start': CONNECT,
  'daemon stop': CONNECT,
  'daemon status': [...CONNECT, 'json'],
  'service install': ['dry-run'],
  'service uninstall': ['dry-run'],
  logs: ['socket', 'follow', 'json'],
  'config list': ['json'],
  'config get': [],
  'config set': [],
  'config unset': [],
  'remote ssh-config': ['socket', 'remote-uid'],
  'remote container': ['socket'],
  'app-server': [...CONNECT, 'account', 'codex'],
};

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

function unknownOption(given: string): UsageError {
  const name = given.replace(/^-+/, '').split('=')[0]!;
  const close = Object.keys(OPTIONS)
    .map((option) => ({ option, d: distance(name, option) }))
    .filter(({ option, d }) => d <= Math.max(1, Math.floor(option.length / 4)) || (name.length >= 3 && option.startsWith(name)))
    .sort((a, b) => a.d - b.d)[0];
  return new UsageError(`unknown option ${given}${close ? `; did you mean --${close.option}?` : ''} (codex-auth --help lists them)`);
}

export interface CommandLine {
  command: string[];
  flags: Flags;
  /** The options given, other than --help and --version. */
  given: Option[];
  help: boolean;
  version: boolean;
}

/** Throws a UsageError for an unknown option or a missing option value. */
export function parseCommandLine(argv: string[]): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const option = /'(-[^']*)'/.exec((error as Error).message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw unknownOption(option.split(/\s/)[0]!);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${option.split(/\s/)[0] || 'an option'} needs a value (codex-auth --help lists them)`);
    throw error;
  }
  const { values, positionals } = parsed;
  return {
    command: positionals,
    help: values.help ?? false,
    version: values.version ?? false,
    given: (Object.keys(values) as Option[]).filter((option) => option !== 'help' && option !== 'version'),
    flags: {
      socket: values.socket,
      json: values.json ?? false,
      deviceAuth: values['device-auth'] ?? false,
      withApiKey: values['with-api-key'] ?? false,
      apiKey: values['api-key'],
      noBrowser: values['no-browser'] ?? false,
      cancel: values.cancel ?? false,
      forceRefresh: values['force-refresh'] ?? false,
      noAutostart: values['no-autostart'] ?? false,
      dryRun: values['dry-run'] ?? false,
      follow: values.follow ?? false,
      name: values.name,
      all: values.all ?? false,
      account: values.account,
      remoteUid: values['remote-uid'],
      codex: values.codex,
    },
  };
}

/** Flags given to a command they do not apply to are usage errors, not silently ignored. */
export function checkApplies(name: string, sub: string | undefined, given: Option[]): void {
  const command = APPLIES[`${name} ${sub}`] ? `${name} ${sub}` : name;
  const allowed = APPLIES[command];
  if (!allowed) return; // an unknown or incomplete command: its own usage error follows
  const stray = given.find((option) => !allowed.includes(option));
  if (stray) throw new UsageError(`--${stray} does not apply to \`codex-auth ${command}\` (codex-auth --help lists what does)`);
}
