// What every codex-auth command ends with: what it prints, and the exit status.
import { DaemonUnreachableError } from '../autostart.js';
import { CodexdError, ErrorCodes } from '../../shared/errors.js';
import { jsonText, printable } from './format.js';
import { Cancelled } from './terminal.js';

export function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${jsonText(value)}\n` : `${printable(text)}\n`);
}

/**
 * The command's exit status; a failure is one line on stderr (status 2 for usage errors,
 * invalid settings and an unreachable daemon). The bin and the full CLI are bundled apart
 * (scripts/bundle.mjs), each with its own copy of the error classes: each settles the commands
 * it runs itself.
 */
export async function settle(command: Promise<number> | number, name?: string): Promise<number> {
  try {
    return await command;
  } catch (error) {
    if (error instanceof Cancelled) {
      process.stderr.write(`codex-auth: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof CodexdError && error.code === ErrorCodes.restricted) {
      process.stderr.write(`codex-auth: this socket only lends tokens: it is forwarded from the machine that holds the login; run ${name === undefined ? 'it' : `\`codex-auth ${name}\``} there\n`);
      return 1;
    }
    // By name: `codex-auth config` runs from the unbundled modules, whose classes are not the bundle's.
    // A name the daemon refuses (`switch`, `--name`, `--account`) is a usage error too.
    const invalidParams = error instanceof CodexdError && error.code === ErrorCodes.invalidParams;
    const usage = invalidParams || ['UsageError', 'SettingsError'].includes((error as Error)?.name) || (error as NodeJS.ErrnoException)?.code?.startsWith?.('ERR_PARSE_ARGS');
    const unreachable = error instanceof DaemonUnreachableError;
    // One line, never a stack trace: the message says what happened.
    const message = (error instanceof Error ? error.message : String(error)).replace(/^Invalid params: /, '');
    process.stderr.write(`codex-auth: ${printable(message.replace(/\s*\n\s*/g, ' '))}\n`);
    return usage || unreachable ? 2 : 1;
  }
}

export function exitWith(command: Promise<number> | number): void {
  void settle(command).then((code) => process.exit(code));
}
