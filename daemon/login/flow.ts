// What a login flow (browser or device code) needs from the daemon, and what it gives back.
import type { LoginType } from '../../shared/protocol.js';
import type { IssuerClient, IssuedTokens } from '../auth/issuer.js';
import type { Logger } from '../runtime/log.js';

export interface LoginContext {
  loginId: string;
  issuer: IssuerClient;
  log: Logger;
  /**
   * Persists the tokens as Codex does (with `apiKey` from the best-effort API-key exchange, or
   * null), then revokes the previous refresh token if it changed. Flows call it last, only while
   * they have not been cancelled.
   */
  persist(tokens: IssuedTokens, options: { apiKey: string | null }): Promise<void>;
  /** Called exactly once, when the flow ends for any reason. */
  finished(result: { success: boolean; error: string | null }): void;
}

export interface LoginFlow {
  readonly loginId: string;
  readonly type: LoginType;
  /** Ends the flow; `finished` reports `reason` as its error. Safe to call more than once. */
  cancel(reason: string): void;
}

export class LoginError extends Error {
  override name = 'LoginError';
}
