// `codex-auth --help`, written from the command table.
import { VERSION } from '../../shared/version.js';
import { COMMANDS, OPTIONS, type OptionSpec } from './commands.js';

const WIDTH = 92;

/** Two columns: `left` padded to `column`, `text` wrapped at WIDTH and indented under itself. */
function row(left: string, column: number, text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && 2 + column + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  const pad = ' '.repeat(2 + column);
  return lines.map((part, i) => (i === 0 ? `  ${`${left} `.padEnd(column)}${part}` : `${pad}${part}`)).join('\n');
}

export function helpText(): string {
  const commands = COMMANDS.flatMap((command) => command.help.map(([usage, text]) => row(usage, 26, text)));
  const options = (Object.entries(OPTIONS) as Array<[string, OptionSpec]>).flatMap(([name, spec]) =>
    spec.help ? [row(`${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`, 21, spec.help)] : [],
  );
  return `codex-auth ${VERSION} - sign in to Codex once, for every tool on this machine

Usage: codex-auth <command> [options]

Commands:
${commands.join('\n')}

Options:
${options.join('\n')}

Exit status: 0 success; 1 not logged in, re-login needed, or the action failed;
2 usage error or the daemon cannot be reached.`;
}

export async function printHelp(): Promise<number> {
  process.stdout.write(`${helpText()}\n`);
  return 0;
}
