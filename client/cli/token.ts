// `codex-auth token`, which the bin runs itself: it loads only this, the command line, the
// framing and the connection, and not the client library (see commands.ts).
import { autostartDisabled } from '../autostart.js';
import { CodexdError, ErrorCodes } from '../../shared/errors.js';
import { requestOnce } from '../oneshot.js';
import { resolveSocketPath } from '../../shared/paths.js';
import { Requests, type TokenParams } from '../../shared/protocol.js';
import type { Flags } from './flags.js';
import { printable } from './format.js';
import { print } from './output.js';

export async function token(flags: Flags): Promise<number> {
  const socket = resolveSocketPath(flags.socket);
  const autostart = !flags.noAutostart && !autostartDisabled();
  try {
    const params: TokenParams = { forceRefresh: flags.forceRefresh, ...(flags.account === undefined ? {} : { account: flags.account }) };
    const result = await requestOnce(socket, autostart, Requests.accountToken, params);
    print(flags.json, result, result.type === 'apiKey' ? result.apiKey : result.accessToken);
    return 0;
  } catch (error) {
    if (error instanceof CodexdError && error.code !== ErrorCodes.internalError && error.code !== ErrorCodes.invalidParams && error.code !== ErrorCodes.restricted) {
      process.stderr.write(`codex-auth: ${printable(error.message)}\n`);
      return 1;
    }
    throw error;
  }
}
