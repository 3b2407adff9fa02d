// `codex-auth completion bash|zsh|fish`: a completion script made from the command table, so a new
// command or flag completes without touching this file. Account names (for `switch`, `logout` and
// `--account`) come at completion time from `codex-auth __complete accounts`, which asks a running
// codexd and never starts one.
import { COMMANDS } from './commands.js';
import { UsageError } from './usage.js';

/** One command line shape: its words (`['daemon', 'stop']`), its flags, and whether its next word is an account name. */
export interface CompletionEntry {
  words: string[];
  flags: string[];
  takesAccount: boolean;
}

/** Every command line of the table but the hidden ones, with whether its argument is an account name. */
export function completionEntries(): CompletionEntry[] {
  return COMMANDS.filter((c) => !c.hidden && c.name !== 'help').map((c) => ({
    words: c.name.split(' '),
    flags: c.options.map((o) => `--${o}`),
    takesAccount: c.args === 'NAME' || c.args === '[NAME]',
  }));
}

/** The flags whose value is an account name. */
const ACCOUNT_FLAGS = ['--account'];
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const NAMES = 'codex-auth __complete accounts 2>/dev/null';

/** The subcommands of each command, and the flags of each command line ("cmd" or "cmd sub"). */
function tables(entries: CompletionEntry[]) {
  const top = [...new Set(entries.map((e) => e.words[0]!))];
  const subs = new Map<string, string[]>();
  for (const { words } of entries) if (words.length > 1) subs.set(words[0]!, [...(subs.get(words[0]!) ?? []), words[1]!]);
  const flags = entries.map((e) => ({ key: e.words.join(' '), flags: [...new Set([...e.flags, '--help'])] }));
  // "$cmd $sub" patterns, two-word command lines first: `daemon stop` exactly, then `token` with anything after it.
  const byLength = [...flags].sort((a, b) => b.key.split(' ').length - a.key.split(' ').length);
  const patterns = byLength.map(({ key, flags: f }) => ({ pattern: key.includes(' ') ? `"${key}"` : `"${key} "*`, flags: f }));
  const accountCommands = entries.filter((e) => e.takesAccount).map((e) => e.words.join(' '));
  return { top, subs, flags, patterns, accountCommands };
}

function bash(entries: CompletionEntry[]): string {
  const { top, subs, patterns, accountCommands } = tables(entries);
  const subCases = [...subs].map(([cmd, list]) => `      ${cmd}) words="${list.join(' ')}" ;;`).join('\n');
  const flagCases = patterns.map(({ pattern, flags: f }) => `    ${pattern}) words="${f.join(' ')}" ;;`).join('\n');
  return `# codex-auth completion for bash. Load it with:  source <(codex-auth completion bash)
_codex_auth() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd=\${COMP_WORDS[1]} sub=\${COMP_WORDS[2]} words=""
  COMPREPLY=()
  case "$prev" in
    ${ACCOUNT_FLAGS.join('|')}) COMPREPLY=($(compgen -W "$(${NAMES})" -- "$cur")); return ;;
  esac
  if (( COMP_CWORD == 1 )); then
    COMPREPLY=($(compgen -W "${top.join(' ')} --help --version" -- "$cur")); return
  fi
  if (( COMP_CWORD == 2 )) && [[ $cur != -* ]]; then
    case "$cmd" in
${subCases}
    esac
    case " ${accountCommands.join(' ')} " in
      *" $cmd "*) words="$(${NAMES})" ;;
    esac
    [[ -n $words ]] && { COMPREPLY=($(compgen -W "$words" -- "$cur")); return; }
  fi
  [[ $cur == -* ]] || return
  case "$cmd $sub" in
${flagCases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _codex_auth codex-auth
`;
}

function zsh(entries: CompletionEntry[]): string {
  const { top, subs, patterns, accountCommands } = tables(entries);
  const subCases = [...subs].map(([cmd, list]) => `      (${cmd}) compadd -- ${list.join(' ')}; return ;;`).join('\n');
  const flagCases = patterns.map(({ pattern, flags: f }) => `    (${pattern}) compadd -- ${f.join(' ')} ;;`).join('\n');
  return `#compdef codex-auth
# codex-auth completion for zsh. Load it with:  source <(codex-auth completion zsh)
# (after compinit), or save it as _codex-auth in a folder on your $fpath.
_codex_auth() {
  local cmd=\${words[2]} sub=\${words[3]}
  if [[ \${words[CURRENT-1]} == (${ACCOUNT_FLAGS.join('|')}) ]]; then
    compadd -- \${(f)"$(${NAMES})"}; return
  fi
  if (( CURRENT == 2 )); then
    compadd -- ${top.join(' ')} --help --version; return
  fi
  if (( CURRENT == 3 )) && [[ $PREFIX != -* ]]; then
    case $cmd in
${subCases}
      (${accountCommands.join('|') || '__none__'}) compadd -- \${(f)"$(${NAMES})"}; return ;;
    esac
  fi
  [[ $PREFIX == -* ]] || return
  case "$cmd $sub" in
${flagCases}
  esac
}
compdef _codex_auth codex-auth
`;
}

function fish(entries: CompletionEntry[]): string {
  const { top, subs, flags, accountCommands } = tables(entries);
  const lines = [
    '# codex-auth completion for fish. Load it with:  codex-auth completion fish | source',
    '# (or save it as ~/.config/fish/completions/codex-auth.fish)',
    'complete -c codex-auth -f',
    `complete -c codex-auth -n __fish_use_subcommand -a '${top.join(' ')}'`,
  ];
  for (const [cmd, list] of subs) lines.push(`complete -c codex-auth -n '__fish_seen_subcommand_from ${cmd}; and not __fish_seen_subcommand_from ${list.join(' ')}' -a '${list.join(' ')}'`);
  if (accountCommands.length > 0) lines.push(`complete -c codex-auth -n '__fish_seen_subcommand_from ${accountCommands.join(' ')}' -a '(${NAMES})'`);
  for (const { key, flags: f } of flags) {
    const [cmd, sub] = key.split(' ');
    const when = sub === undefined ? `__fish_seen_subcommand_from ${cmd}` : `__fish_seen_subcommand_from ${cmd}; and __fish_seen_subcommand_from ${sub}`;
    for (const flag of f) {
      const account = ACCOUNT_FLAGS.includes(flag) ? ` -x -a '(${NAMES})'` : '';
      lines.push(`complete -c codex-auth -n '${when}' -l ${flag.replace(/^--/, '')}${account}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: string | undefined, entries: CompletionEntry[]): string {
  switch (shell) {
    case 'bash':
      return bash(entries);
    case 'zsh':
      return zsh(entries);
    case 'fish':
      return fish(entries);
    default:
      throw new UsageError(`${shell === undefined ? 'name a shell' : `no completion for "${shell}"`}: codex-auth completion ${SHELLS.join('|')}`);
  }
}
