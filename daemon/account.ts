// What clients ask of the login the daemon holds: status, token, logout. The session owns the
// login's state, the refresher keeps it fresh, logins (./logins.ts) start new ones; this answers
// from them and announces every change to all clients.
import { EventEmitter } from 'node:events';
import type { LoginCompleted, LogoutResult, SessionResult, Status, TokenResult } from '../shared/protocol.js';
import { codexCredentialsStore, keyringNote } from './codex-config.js';
import { IssuerUnavailable, NotLoggedIn, ReauthRequired, StorageFailed } from './errors.js';
import type { IssuerClient } from './issuer.js';
import { expiryMs, identityOf } from './jwt.js';
import type { Logger } from './log.js';
import { Logins } from './logins.js';
import { Refresher, STALE_AFTER_DAYS } from './refresher.js';
import { chatgptOf, Session, type HeldChatgpt } from './session.js';
import type { Settings } from './settings.js';
import type { AuthRecord, AuthStore, Loaded } from './store.js';

export interface AccountEvents {
  updated: [Status];
  loginCompleted: [LoginCompleted];
}

const EXPIRY_UNKNOWN = `the access token carries no valid expiry time (exp), so it is refreshed ${STALE_AFTER_DAYS} days after the last refresh, as Codex does`;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export class AccountService extends EventEmitter<AccountEvents> {
  private lastAnnounced = '';
  /** Set while a logout runs: no token is handed out until it has finished. */
  private loggingOut: Promise<void> | null = null;
  private readonly session: Session;
  private readonly refresher: Refresher;
  readonly logins: Logins;

  constructor(
    private readonly store: AuthStore,
    private readonly issuer: IssuerClient,
    settings: Settings,
    private readonly log: Logger,
  ) {
    super();
    this.session = new Session(log);
    this.refresher = new Refresher(
      store,
      issuer,
      this.session,
      {
        marginMs: settings.refreshMarginS * 1000,
        backoffBaseMs: settings.refreshBackoffBaseMs,
        backoffMaxMs: settings.refreshBackoffMaxMs,
        tickMs: settings.tickS * 1000,
      },
      log,
    );
    this.logins = new Logins(store, issuer, this.session, settings, log);
    this.session.on('changed', () => this.announce());
    this.logins.on('completed', (event) => this.emit('loginCompleted', event));
    this.logins.on('changed', () => this.announce());
  }

  async start(): Promise<void> {
    const readOnly = await this.store.readOnlyReason();
    if (readOnly) this.log.warn(readOnly);
    this.session.adopt(await this.store.load());
  }

  stop(): void {
    this.refresher.stop();
    this.logins.stop();
  }

  /** Re-reads auth.json; called when the file may have changed under us. */
  async reload(): Promise<void> {
    const loaded = await this.store.load();
    const held = this.session.loaded;
    if (loaded.kind === held.kind && rawOf(loaded) === rawOf(held)) return;
    if (this.session.holdsNewerThan(loaded)) return;
    this.log.info('auth.json changed on disk');
    this.session.adopt(loaded);
  }

  status(): Status {
    const loaded = this.session.loaded;
    const base: Status = {
      account: null,
      state: 'loggedOut',
      accessTokenExpiresAt: null,
      accessTokenExpiryNote: null,
      lastRefresh: null,
      reauthReason: null,
      lastRefreshError: null,
      nextRefreshAt: null,
      login: this.logins.pending,
      upstream: null,
    };
    if (loaded.kind === 'missing') return { ...base, reauthReason: keyringNote(codexCredentialsStore(this.store.codexHome)) };
    if (loaded.kind === 'unusable') return { ...base, reauthReason: `auth.json cannot be used: ${loaded.reason}` };
    const { record } = loaded;
    if (record.auth_mode === 'apikey') return { ...base, account: { type: 'apiKey' }, state: 'ok' };
    const tokens = record.tokens!;
    const identity = identityOf(tokens.id_token);
    const reauthReason = this.session.reauthReason;
    const expiresAt = expiryMs(tokens.access_token);
    return {
      ...base,
      account: { type: 'chatgpt', email: identity.email, planType: identity.planType, accountId: tokens.account_id ?? identity.accountId },
      state: reauthReason ? 'reauthRequired' : this.session.refreshing ? 'refreshing' : 'ok',
      accessTokenExpiresAt: iso(expiresAt),
      accessTokenExpiryNote: expiresAt === null ? EXPIRY_UNKNOWN : null,
      lastRefresh: record.last_refresh ?? null,
      reauthReason,
      lastRefreshError: this.session.lastError,
      nextRefreshAt: iso(this.refresher.nextAttemptAt()),
    };
  }

  async read(refreshToken: boolean): Promise<Status> {
    if (refreshToken && this.session.held()) await this.refresher.ensureFresh(true);
    return this.status();
  }

  async token(forceRefresh: boolean): Promise<TokenResult> {
    const login = await this.freshLogin(forceRefresh);
    if (login.auth_mode === 'apikey') return { type: 'apiKey', apiKey: login.OPENAI_API_KEY! };
    const { access_token: accessToken, account_id: accountId } = login.tokens!;
    return { type: 'chatgpt', accessToken, accountId, expiresAt: iso(expiryMs(accessToken)) };
  }

  /** What a follower mirrors: the fresh login without its refresh token. */
  async sessionForFollower(): Promise<SessionResult> {
    const login = await this.freshLogin(false);
    if (login.auth_mode === 'apikey') return { authMode: 'apikey', apiKey: login.OPENAI_API_KEY! };
    const { access_token: accessToken, id_token: idToken, account_id: accountId } = login.tokens!;
    return { authMode: 'chatgpt', accessToken, idToken, accountId, expiresAt: iso(expiryMs(accessToken)), lastRefresh: login.last_refresh ?? null };
  }

  /** The login held, refreshed first when due (or when forced); throws when there is none to serve. */
  private async freshLogin(forceRefresh: boolean): Promise<AuthRecord> {
    if (this.loggingOut) await this.loggingOut;
    const loaded = this.session.loaded;
    if (loaded.kind === 'missing') throw new NotLoggedIn('Not logged in. Run `codex-auth login`.');
    if (loaded.kind === 'unusable') {
      throw new NotLoggedIn(`Not logged in: auth.json cannot be used (${loaded.reason}). Run \`codex-auth login\`.`);
    }
    if (loaded.record.auth_mode === 'apikey') return loaded.record;

    const failure = await this.refresher.ensureFresh(forceRefresh);
    if (this.loggingOut) return this.freshLogin(false); // a logout began while the token was refreshed
    const reauth = this.session.reauthReason;
    if (reauth) throw new ReauthRequired(`${reauth} Run \`codex-auth login\`.`);
    const held = this.session.held();
    if (!held) return this.freshLogin(false); // the refresh adopted a different kind of login from disk
    const exp = expiryMs(held.record.tokens.access_token);
    const transient = this.session.transient?.reason;
    if (transient && exp !== null && exp <= Date.now()) {
      throw new IssuerUnavailable(`The access token has expired and could not be refreshed: ${transient}`);
    }
    // Asked for a new token and did not get one: the old one is not what was asked for.
    if (forceRefresh && failure) {
      throw new IssuerUnavailable(`Could not refresh the access token (${failure}). Try again later; \`codex-auth status\` shows when codexd retries.`);
    }
    return held.record;
  }

  async logout(): Promise<LogoutResult> {
    const done = this.logoutOnce();
    const pending = done.then(() => undefined, () => undefined);
    this.loggingOut = pending;
    try {
      return await done;
    } finally {
      if (this.loggingOut === pending) this.loggingOut = null;
    }
  }

  /**
   * A refresh in flight is spending the refresh token on disk: wait for it, then, under Codex's
   * lock, revoke whatever is current (the rotated token) and delete the file.
   */
  private async logoutOnce(): Promise<LogoutResult> {
    // Before revoking: a revoked login left on a disk we cannot change would be worse than none.
    const readOnly = await this.store.readOnlyReason();
    if (readOnly) throw new StorageFailed(`Cannot log out: ${readOnly}.`);
    this.logins.supersede('Login was cancelled because you logged out');
    await this.refresher.settled();
    let warning: string | undefined;
    let movedAside: string | null;
    try {
      movedAside = await this.store.withAuthLock(async (writer) => {
        const disk = await writer.load();
        const current = this.session.holdsNewerThan(disk) ? this.session.held() : chatgptOf(disk);
        if (current) warning = await this.revoke(current.record.tokens);
        return writer.save(null);
      });
    } catch (error) {
      throw new StorageFailed(`Could not save auth.json: ${(error as Error).message}`);
    }
    if (movedAside) this.log.warn({ aside: movedAside }, 'kept the unusable auth.json aside');
    this.session.replace(await this.store.load());
    this.log.info('logged out');
    return { ...(warning ? { warning } : {}), ...(movedAside ? { movedAside } : {}) };
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

  /** Sends `account/updated` when anything a client can see has changed since the last one. */
  private announce(): void {
    const status = this.status();
    const key = `${rawOf(this.session.loaded)}\u0000${JSON.stringify(status)}`;
    if (key === this.lastAnnounced) return;
    this.lastAnnounced = key;
    this.emit('updated', status);
  }
}

function rawOf(loaded: Loaded): string {
  return loaded.kind === 'missing' ? '' : loaded.raw;
}
