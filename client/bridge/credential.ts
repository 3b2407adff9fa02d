// The credential the bridge hands Codex's app-server: codexd's token for one account (the one
// named with --account, else whichever is active), in the shape of Codex's host-managed login.
import { CodexdError, ErrorCodes, type CodexdClient, type Status } from '../index.js';

/** The fields of Codex's `account/login/start {type: "chatgptAuthTokens"}` and of its refresh answer. */
export interface HostTokens {
  accessToken: string;
  chatgptAccountId: string;
  /** null: Codex reads the plan from the access token's claims. */
  chatgptPlanType: string | null;
  /** The access token's `exp` in ms, when codexd knows it. */
  expiresAtMs: number | null;
}

export type Credential =
  | { kind: 'chatgpt'; tokens: HostTokens }
  | { kind: 'apiKey'; apiKey: string }
  /** No login for the account, or it needs a new sign-in: `why` says which, in codexd's words. */
  | { kind: 'none'; why: string };

/** Codexd errors that mean "nothing to hand over now" rather than "something is broken". */
const NO_LOGIN: readonly number[] = [ErrorCodes.notLoggedIn, ErrorCodes.reauthRequired];

export class AccountCredential {
  constructor(
    private readonly codexd: CodexdClient,
    /** The account's name; undefined follows the active account. */
    readonly account: string | undefined,
  ) {}

  /** codexd's current credential for the account (refreshed first when due, or when forced). */
  async fetch(forceRefresh = false): Promise<Credential> {
    let result;
    try {
      result = await this.codexd.token({ forceRefresh, ...(this.account === undefined ? {} : { account: this.account }) });
    } catch (error) {
      if (error instanceof CodexdError && NO_LOGIN.includes(error.code)) return { kind: 'none', why: error.message };
      throw error;
    }
    if (result.type === 'apiKey') return { kind: 'apiKey', apiKey: result.apiKey };
    const chatgptAccountId = result.accountId ?? accountIdClaim(result.accessToken);
    if (!chatgptAccountId) return { kind: 'none', why: 'The ChatGPT login has no workspace id (chatgpt_account_id); sign in again with `codex-auth login`.' };
    const expiresAtMs = result.expiresAt === null ? null : Date.parse(result.expiresAt);
    return { kind: 'chatgpt', tokens: { accessToken: result.accessToken, chatgptAccountId, chatgptPlanType: null, expiresAtMs } };
  }

  /**
   * What a status says about the account's token: it changes when codexd has a new token for it
   * (a refresh, a sign-in, a switch of the active account, a logout), and only then. Two tokens
   * issued within one second have the same expiry: `lastRefresh` (to the millisecond) tells them
   * apart.
   */
  version(status: Status): string {
    if (this.account !== undefined) {
      const summary = status.accounts.find((candidate) => candidate.name === this.account);
      return summary ? `${summary.type} ${summary.email} ${summary.accessTokenExpiresAt} ${summary.lastRefresh} ${summary.state}` : 'gone';
    }
    const { account } = status;
    if (!account) return 'none';
    return `${account.type} ${account.type === 'chatgpt' ? account.accountId : ''} ${status.accessTokenExpiresAt} ${status.lastRefresh} ${status.state}`;
  }
}

/** `chatgpt_account_id` from an access token's claims, for a login whose auth.json has no account_id. */
function accountIdClaim(jwt: string): string | null {
  try {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const auth = claims['https://api.openai.com/auth'] as Record<string, unknown> | undefined;
    const id = auth?.['chatgpt_account_id'];
    return typeof id === 'string' && id !== '' ? id : null;
  } catch {
    return null;
  }
}
