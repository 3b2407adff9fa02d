import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** This package's version, read once from package.json (two folders above the compiled file). */
export const VERSION: string = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/** `--help` and `--version`, the same for both programs: print and exit 0. */
export function exitOnHelpOrVersion(values: { help?: boolean | undefined; version?: boolean | undefined }, help: string): void {
  const text = values.help ? help : values.version ? VERSION : null;
  if (text === null) return;
  process.stdout.write(`${text}\n`);
  process.exit(0);
}
