// `codex-auth __complete accounts`: the account names a completion script offers, one a line,
// from a running codexd only, and quickly: a shell waits for this at every <TAB>. Nothing (and
// exit 0) when no daemon answers in time; never starts one.
import { requestOnce } from '../oneshot.js';
import { resolveSocketPath } from '../../shared/paths.js';
import { Requests } from '../../shared/protocol.js';

export async function completeAccounts(socketFlag: string | undefined): Promise<number> {
  // 80 ms, unless CODEXD_COMPLETION_WAIT_MS says otherwise (tests on a busy machine).
  const waitMs = Number(process.env['CODEXD_COMPLETION_WAIT_MS']) || 80;
  const timeout = new Promise<null>((resolve) => setTimeout(resolve, waitMs, null).unref());
  const list = await Promise.race([requestOnce(resolveSocketPath(socketFlag), false, Requests.accountList, {}).catch(() => null), timeout]);
  process.stdout.write((list?.accounts ?? []).map((account) => `${account.name}\n`).join(''));
  return 0;
}
