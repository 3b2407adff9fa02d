// Login, switch and logout move logins between account slots (./slot.ts): the active slot, on
// auth.json (or Codex's keyring entry), and one slot per inactive account, on its own file (or
// keyring entry of codexd's). Every move here runs inside AccountService's `changes` mutex, so
// one at a time, and takes its locks in one order:
//
//   1. AccountService `changes` (one move at a time; outside changes of auth.json too)
//   2. the incoming account's storage lock (none when a login brings a new account)
//   3. Codex's auth.lock (then auth.json.lock inside each write, as Codex does)
//   4. the outgoing account's storage lock
//
// A refresher takes its own slot's storage lock and nothing else while it holds it (the active
// one auth.lock, an inactive one its account's lock), so a refresh never waits for a move that
// waits for it. Holding 2 and 3 also means neither account's refresh is in flight during a move.
//
// Crash order: a switch writes (a) the outgoing login, with whatever Codex wrote into auth.json,
// to its account's storage; (b) auth.json; (c) removes the incoming account's storage. Killed at
// any point, every account is on disk at least once: after (a) the outgoing one is in two
// places, after (b) the incoming one. The copy too many is always an account file that holds
// the login auth.json holds, and auth.json wins: `removeCopyOfActive` drops it, at the next
// start (AccountService.start, from AccountRegistry.load's scan) and whenever another writer puts
// an inactive account's login in auth.json (AccountService.reload).
import type { LogoutResult } from '../../shared/protocol.js';
import { StorageFailed } from '../errors.js';
import type { IssuerClient } from '../auth/issuer.js';
import type { Logger } from '../runtime/log.js';
import type { AccountRegistry } from './registry.js';
import { accountKey } from './identity.js';
import type { AccountSlot } from './slot.js';
import { chatgptOf, type HeldChatgpt } from '../auth/login-state.js';
import type { LoginStorage } from '../auth/refresher.js';
import type { AuthRecord, Loaded } from '../auth/store.js';

export class AccountMoves {
  constructor(
    /** auth.json, or Codex's keyring entry (AuthStore). */
    private readonly store: LoginStorage,
    private readonly active: AccountSlot,
    private readonly accounts: AccountRegistry,
    private readonly issuer: IssuerClient,
    private readonly log: Logger,
  ) {}

  /**
   * Makes `key` the active account, with `incoming` (a login just made) or the login its slot
   * holds. In the order above; the active slot and the registry change in memory only once
   * every write has landed, with no await in between, so a request always finds the account.
   * Returns where an unusable auth.json was kept aside, if there was one.
   */
  async activate(key: string, incoming: AuthRecord | null): Promise<string | null> {
    const target = this.accounts.inactive(key);
    // The incoming account's own storage: the store it was read from, whatever config.toml says now.
    return (target?.storage ?? this.accounts.storage(key)).withAuthLock(async (incomingFile) => {
      const record = incoming ?? target?.login();
      if (!record) throw new Error('the account has no usable login; log in to it again');
      const reauth = incoming ? null : (target?.reauthReason ?? null);
      return this.store.withAuthLock(async (authJson) => {
        const outgoing = this.active.newestOf(await authJson.load());
        const outKey = outgoing === null ? null : accountKey(outgoing);
        const outReauth = this.active.reauthReason;
        let moved: Loaded | null = null;
        // (a)
        if (outgoing && outKey !== key) {
          moved = await this.accounts.storage(outKey!).withAuthLock(async (out) => {
            await out.save(outgoing);
            return out.load();
          });
        }
        // (b)
        let aside: string | null;
        try {
          aside = await authJson.save(record);
        } catch (error) {
          // auth.json still holds the outgoing login: its copy would be one too many.
          if (moved) await this.accounts.storage(outKey!).withAuthLock((out) => out.save(null)).catch(() => undefined);
          throw error;
        }
        if (aside) this.log.warn({ aside }, 'kept the unusable auth.json aside');
        // (c)
        if (target) {
          await incomingFile.save(null).catch((error: Error) => this.log.warn(`${error.message}; the copy is removed at the next start`));
        }
        const now = await authJson.load();
        this.accounts.drop(key);
        if (moved) this.accounts.add(outKey!, moved, outReauth);
        this.active.replace(now, reauth);
        return aside;
      });
    });
  }

  /**
   * After a refresh in flight has settled (the caller's), under Codex's lock: revokes whatever is
   * current (the rotated token) and deletes auth.json.
   */
  async logoutActive(): Promise<LogoutResult> {
    let warning: string | undefined;
    const movedAside = await this.store.withAuthLock(async (authJson) => {
      const disk = await authJson.load();
      const current = this.active.holdsNewerThan(disk) ? this.active.held() : chatgptOf(disk);
      if (current) warning = await this.revoke(current.record.tokens);
      return authJson.save(null);
    });
    this.active.replace(await this.store.load());
    return { ...(warning ? { warning } : {}), ...(movedAside ? { movedAside } : {}) };
  }

  /** Under the account's storage lock, so that no refresh of it is in flight: revokes, then removes its storage. */
  async logoutInactive(key: string): Promise<string | undefined> {
    const slot = this.accounts.inactive(key)!;
    let warning: string | undefined;
    try {
      await slot.storage.withAuthLock(async (file) => {
        const held = slot.held();
        if (held) warning = await this.revoke(held.record.tokens);
        await file.save(null);
      });
    } catch (error) {
      throw new StorageFailed(`Could not remove the account: ${(error as Error).message}`);
    }
    this.accounts.drop(key);
    return warning;
  }

  /** auth.json holds the account `key` too (see the crash order above): auth.json wins, its own storage goes. */
  async removeCopyOfActive(key: string): Promise<void> {
    try {
      await this.accounts.storage(key).withAuthLock((file) => file.save(null));
      this.log.info({ account: key }, 'removed the account file of the active account: auth.json holds its login');
    } catch (error) {
      this.log.warn(`${(error as Error).message}; tried again at the next start`);
    }
  }

  /** Revokes the refresh token (or, without one, the access token); a failure is only a warning. */
  private async revoke(tokens: HeldChatgpt['record']['tokens']): Promise<string | undefined> {
    const { refresh_token: refreshToken, access_token: accessToken } = tokens;
    try {
      await (refreshToken ? this.issuer.revoke(refreshToken, 'refresh_token') : this.issuer.revoke(accessToken, 'access_token'));
      return undefined;
    } catch (error) {
      const warning = `Could not revoke the token at the issuer (${(error as Error).message}); logged out locally anyway.`;
      this.log.warn(warning);
      return warning;
    }
  }
}
