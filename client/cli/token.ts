// `codex-auth token`, and what every codex-auth command ends with: printing and the exit status.
// Kept apart from main.ts so that the fast path (bin.ts) loads only this, the command line, the
// framing and the connection, and not the client library.
import { autostartDisabled, DaemonUnreachableError } from '../autostart.js';
import { CodexdError, ErrorCodes } from '../../shared/errors.js';
import { requestOnce } from '../oneshot.js';
import { resolveSocketPath } from '../../shared/paths.js';
import { Requests, type TokenParams } from '../../shared/protocol.js';
import type { Flags } from './args.js';
import { jsonText, printable } from './format.js';
import { Cancelled } from './terminal.js';

export function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${jsonText(value)}\n` : `${printable(text)}\n`);
}

export async function token(flags: Flags): Promise<number> {
  const socket = resolveSocketPath(flags.socket);
  const autostart = !flags.noAutostart && !autostartDisabled();
  try {
    const params: TokenParams = { forceRefresh: flags.forceRefresh, ...(flags.account === undefined ? {} : { account: flags.account }) };
    const result = await requestOnce(socket, autostart, Requests.accountToken, params);
    print(flags.json, result, result.type === 'apiKey' ? result.apiKey : result.accessToken);
    return 0;
  } catch (error) {
    if (error instanceof CodexdError && error.code !== ErrorCodes.internalError && error.code !== ErrorCodes.invalidParams) {
      process.stderr.write(`${printable(error.message)}\n`);
      return 1;
    }
    throw error;
  }
}

/** Exits with the command's status; a failure is one line on stderr (exit 2 for usage errors, invalid settings and an unreachable daemon). */
export function exitWith(command: Promise<number>): void {
  command.then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof Cancelled) {
        process.stderr.write(`${error.message}\n`);
        process.exit(error.exitCode);
      }
      // By name: `codex-auth config` runs from the unbundled modules, whose classes are not the bundle's.
      // A name the daemon refuses (`switch`, `--name`, `--account`) is a usage error too.
      const invalidParams = error instanceof CodexdError && error.code === ErrorCodes.invalidParams;
      const usage = invalidParams || ['UsageError', 'SettingsError'].includes((error as Error)?.name) || (error as NodeJS.ErrnoException)?.code?.startsWith?.('ERR_PARSE_ARGS');
      const unreachable = error instanceof DaemonUnreachableError;
      // One line, never a stack trace: the message says what happened.
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`codex-auth: ${printable(message.replace(/\s*\n\s*/g, ' '))}\n`);
      process.exit(usage || unreachable ? 2 : 1);
    },
  );
}
