// The command table (client/cli/commands.ts) is the one source of the command line's rules and of
// `--help`: in-process checks that an entry added there is complete, and that the command line is
// read from it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findCommand, parseCommandLine, synopsis } from '../client/cli/args.js';
import { COMMANDS, OPTIONS, type OptionSpec } from '../client/cli/commands.js';
import { helpText } from '../client/cli/help.js';

const find = (...argv: string[]): { name: string; args: string[] } => {
  const { command, args } = findCommand(parseCommandLine(argv));
  return { name: command.name, args };
};

describe('the command table', () => {
  it('has one entry per name, each with a help line of its own that --help prints', () => {
    const names = COMMANDS.map((command) => command.name);
    assert.deepEqual(names, [...new Set(names)]);
    const help = helpText();
    for (const command of COMMANDS.filter((c) => !c.hidden)) {
      assert.ok(command.help.length > 0 && command.help.every(([usage]) => usage === command.name || usage.startsWith(`${command.name} `)), command.name);
      for (const [usage, text] of command.help) assert.ok(help.split('\n').some((line) => line.startsWith(`  ${usage} `) && line.slice(usage.length + 2).trimStart().startsWith(text.split(' ')[0]!)), usage);
    }
    for (const [name, spec] of Object.entries(OPTIONS) as Array<[string, OptionSpec]>) if (spec.help) assert.match(help, new RegExp(`^ {2}(-\\w, )?--${name}\\b`, 'm'));
  });

  it('finds the longest command the words name, and its arguments', () => {
    assert.deepEqual(find('login', 'status'), { name: 'login status', args: [] });
    assert.deepEqual(find('login'), { name: 'login', args: [] });
    assert.deepEqual(find('switch', 'work'), { name: 'switch', args: ['work'] });
    assert.deepEqual(find('logout'), { name: 'logout', args: [] });
    assert.deepEqual(find('config', 'set', 'TICK_S', '60'), { name: 'config set', args: ['TICK_S', '60'] });
    assert.deepEqual(parseCommandLine(['app-server', '--account', 'work', '--', '--listen', 'stdio://']).passed, ['--listen', 'stdio://']);
  });

  it('refuses what the table does not allow, in its words', () => {
    assert.throws(() => find('frob'), { name: 'UsageError', message: 'unknown command "frob"; run `codex-auth --help`' });
    assert.throws(() => find('daemon'), { name: 'UsageError', message: `usage: codex-auth ${COMMANDS.filter((c) => c.name.startsWith('daemon ')).map(synopsis).join(' | ')}` });
    assert.throws(() => find('config', 'set', 'TICK_S'), { name: 'UsageError', message: /^usage: codex-auth config list \[--json\] \[--all\] \| config get KEY \| config set KEY VALUE \| / });
    assert.throws(() => find('switch'), { name: 'UsageError', message: 'usage: codex-auth switch NAME (`codex-auth accounts` lists the names)' });
    assert.throws(() => find('status', 'now'), { name: 'UsageError', message: 'unexpected argument "now"' });
    assert.throws(() => find('status', '--', 'x'), { name: 'UsageError', message: '`--` is only for codex-auth app-server -- ARGS and codex-auth exec -- CMD [ARGS...]' });
    assert.throws(() => find('app-server', 'x'), { name: 'UsageError', message: 'unexpected argument "x"; pass arguments for `codex app-server` after --: codex-auth app-server -- x' });
    assert.throws(() => find('daemon', 'stop', '--json'), { name: 'UsageError', message: '--json does not apply to `codex-auth daemon stop` (codex-auth --help lists what does)' });
  });
});
