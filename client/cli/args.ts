// codex-auth's command line, checked against the command table (commands.ts): the options, the
// command, and what the command takes.
import { parseArgs } from 'node:util';
import { nameProblem } from '../../shared/account-name.js';
import { COMMANDS, OPTIONS, type Command, type Option, type OptionSpec } from './commands.js';
import { flagsFrom, type Flags } from './flags.js';
import { UsageError } from './usage.js';

/** Edit distance with a swap of two neighbours as one edit (`--verison`), for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate `given` is most likely a typo of, if one is close enough. */
function closest(given: string, candidates: Iterable<string>): string | undefined {
  return [...candidates]
    .map((candidate) => ({ candidate, d: distance(given, candidate) }))
    .filter(({ candidate, d }) => d <= Math.max(1, Math.floor(candidate.length / 4)) || (given.length >= 3 && candidate.startsWith(given)))
    .sort((a, b) => a.d - b.d)[0]?.candidate;
}

function unknownOption(given: string): UsageError {
  const close = closest(given.replace(/^-+/, '').split('=')[0]!, Object.keys(OPTIONS));
  return new UsageError(`unknown option ${given}${close ? `; did you mean --${close}?` : ''} (codex-auth --help lists them)`);
}

export interface CommandLine {
  /** The words that are not options: the command's name and its arguments. */
  words: string[];
  flags: Flags;
  /** The options given, other than --help and --version. */
  given: Option[];
  /** The words after `--`, or null without `--`. */
  passed: string[] | null;
  help: boolean;
  version: boolean;
}

/** A whole number of at most 1,000,000. */
function count(option: string, text: string): number {
  if (!/^\d{1,7}$/.test(text) || Number(text) > 1_000_000) throw new UsageError(`${option} needs a whole number from 0 to 1000000, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** Throws a UsageError for an unknown option or a missing option value. */
export function parseCommandLine(argv: string[]): CommandLine {
  const dashes = argv.indexOf('--');
  let parsed;
  try {
    parsed = parseArgs({ args: dashes === -1 ? argv : argv.slice(0, dashes), allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const option = /'(-[^']*)'/.exec((error as Error).message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw unknownOption(option.split(/\s/)[0]!);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${option.split(/\s/)[0] || 'an option'} needs a value (codex-auth --help lists them)`);
    throw error;
  }
  const { values, positionals } = parsed;
  return {
    words: positionals,
    passed: dashes === -1 ? null : argv.slice(dashes + 1),
    help: values.help ?? false,
    version: values.version ?? false,
    given: (Object.keys(values) as Option[]).filter((option) => option !== 'help' && option !== 'version'),
    flags: { ...flagsFrom(values), lines: values.lines === undefined ? undefined : count('-n', values.lines) },
  };
}

/** An account name that cannot be one is refused before anything is sent. */
function checkNames(names: Array<string | undefined>): void {
  for (const name of names) {
    const problem = name === undefined ? null : nameProblem(name);
    if (problem) throw new UsageError(`the name ${JSON.stringify(name)} is not allowed: ${problem}`);
  }
}

/** How a command is called, as one line: `remote ssh-config HOST [--remote-uid UID]`. */
export function synopsis(command: Command): string {
  const shown = command.options
    .filter((option) => option !== 'socket' && option !== 'no-autostart')
    .map((option) => {
      const spec: OptionSpec = OPTIONS[option];
      return `[${spec.short ? `-${spec.short}` : `--${option}`}${spec.value ? ` ${spec.value}` : ''}]`;
    });
  return [command.name, ...(command.args ? [command.args] : []), ...shown].join(' ');
}

function usage(commands: readonly Command[], from?: string): UsageError {
  return new UsageError(`usage: codex-auth ${commands.map(synopsis).join(' | ')}${from ? ` (${from})` : ''}`);
}

/** The command the words name, and its arguments; a UsageError when there is none or it is not called that way. */
export function findCommand(commandLine: CommandLine): { command: Command; args: string[] } {
  const { words, given } = commandLine;
  const named = (count: number): Command | undefined => (words.length >= count ? COMMANDS.find((c) => c.name === words.slice(0, count).join(' ')) : undefined);
  const command = named(2) ?? named(1);
  const group = (first: string | undefined): Command[] => COMMANDS.filter((c) => c.name.startsWith(`${first} `));
  if (!command) {
    const inGroup = group(words[0]);
    if (inGroup.length > 0) {
      const close = words.length > 1 ? closest(`${words[0]} ${words[1]}`, inGroup.map((c) => c.name)) : undefined;
      if (!close) throw usage(inGroup);
      throw new UsageError(`unknown command "${words[0]} ${words[1]}"; did you mean \`codex-auth ${close}\`?`);
    }
    const close = closest(words[0]!, new Set(COMMANDS.map((c) => c.name.split(' ')[0]!)));
    throw new UsageError(`unknown command "${words[0]}"; ${close ? `did you mean \`codex-auth ${close}\`?` : 'run `codex-auth --help`'}`);
  }
  if (commandLine.passed !== null && !command.passes) {
    throw new UsageError(`\`--\` is only for ${COMMANDS.filter((c) => c.passes).map((c) => `codex-auth ${c.name} -- ${c.passes![1]}`).join(' and ')}`);
  }
  // Options given to a command they do not apply to are usage errors, not silently ignored.
  const stray = given.find((option) => !command.options.includes(option));
  if (stray) throw new UsageError(`--${stray} does not apply to \`codex-auth ${command.name}\` (codex-auth --help lists what does)`);
  const args = words.slice(command.name.split(' ').length);
  const expected = command.args?.split(' ') ?? [];
  const required = expected.filter((word) => !word.startsWith('[')).length;
  if (args.length >= required && args.length <= expected.length) {
    checkNames([commandLine.flags.name, commandLine.flags.account, expected[0]?.replace(/[[\]]/g, '') === 'NAME' ? args[0] : undefined]);
    return { command, args };
  }
  if (expected.length === 0) {
    const close = closest(`${command.name} ${args[0]}`, COMMANDS.filter((c) => c.name.startsWith(`${command.name} `)).map((c) => c.name));
    if (close) throw new UsageError(`unknown command "${command.name} ${args[0]}"; did you mean \`codex-auth ${close}\`?`);
    const after = command.passes ? `; pass arguments for ${command.passes[0]} after --: codex-auth ${command.name} -- ${args.join(' ')}` : '';
    throw new UsageError(`unexpected argument "${args[0]}"${after}`);
  }
  // `config set KEY` is answered with every config command.
  throw usage(command.name.includes(' ') ? group(words[0]) : [command], command.argsFrom);
}
