// The login the daemon holds, and everything clients ask of it: status, token, login, logout.
// auth.json on disk is the truth; this keeps the last copy read (or written) and announces
// every change to all clients.
import { EventEmitter } from 'node:events';
import { ResponseError } from 'vscode-jsonrpc/node';
import {
  ErrorCodes,
  type LoginCompleted,
  type LoginStartParams,
  type LoginStartResult,
  type LogoutResult,
  type Status,
  type TokenResult,
} from '../shared/protocol.js';
import { codexCredentialsStore, keyringNote } from './codex-config.js';
import { IssuerError, type IssuerClient, type TokenSet } from './issuer.js';
import { expiryMs, identityOf } from './jwt.js';
import type { Logger } from './log.js';
import { startBrowserLogin } from './login/browser.js';
import { startDeviceLogin } from './login/device.js';
import type { LoginContext, LoginFlow } from './login/flow.js';
import { Refresher, STALE_AFTER_DAYS, type HeldChatgpt } from './refresher.js';
import { holdSecrets, scrub } from './secrets.js';
import type { Peer } from './server.js';
import { secretsOf, timestamp, type AuthRecord, type AuthStore, type Loaded } from './store.js';
import type { Settings } from './settings.js';

export interface AccountEvents {
  updated: [Status];
  loginCompleted: [LoginCompleted];
}

const EXPIRY_UNKNOWN = `the access token carries no valid expiry time (exp), so it is refreshed ${STALE_AFTER_DAYS} days after the last refresh, as Codex does`;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function rpcError(code: number, message: string): ResponseError<void> {
  return new ResponseError(code, scrub(message));
}

export class AccountService extends EventEmitter<AccountEvents> {
  private loaded: Loaded = { kind: 'missing' };
  private login: LoginFlow | null = null;
  private lastAnnounced = '';
  private loginSequence = 0;
  /** Bumped by every login start and logout: a login that finishes starting after a newer one began is dropped. */
  private loginGeneration = 0;
  private supersededBecause = '';
  /** Set while a logout runs: no token is handed out until it has finished. */
  private loggingOut: Promise<void> | null = null;
  readonly refresher: Refresher;

  constructor(
    private readonly store: AuthStore,
    private readonly issuer: IssuerClient,
    private readonly settings: Settings,
    private readonly log: Logger,
  ) {
    super();
    this.refresher = new Refresher(
      store,
      issuer,
      { held: () => this.held(), adopt: (loaded) => this.adopt(loaded), changed: () => this.announce() },
      {
        marginMs: settings.refreshMarginS * 1000,
        backoffBaseMs: settings.refreshBackoffBaseMs,
        backoffMaxMs: settings.refreshBackoffMaxMs,
        tickMs: settings.tickS * 1000,
      },
      log,
    );
  }

  async start(): Promise<void> {
    const readOnly = await this.store.readOnlyReason();
    if (readOnly) this.log.warn(readOnly);
    this.adopt(await this.store.load());
  }

  /** Runs once the socket is bound, so that Codex holding auth.lock never delays start-up. */
  removeLeftoverTempFiles(): void {
    try {
      const removed = this.store.removeLeftoverTempFiles();
      if (removed === null) this.log.info('auth.lock is held by another writer; temp files of interrupted writes, if any, stay until the next start');
      else if (removed.length > 0) this.log.warn({ removed }, 'removed temp files left by an interrupted write');
    } catch (error) {
      this.log.warn(`could not clean up temp files in ${this.store.codexHome}: ${(error as Error).message}`);
    }
  }

  stop(): void {
    this.refresher.stop();
    this.login?.cancel('codexd is shutting down');
  }

  /** Re-reads auth.json; called when the file may have changed under us. */
  async reload(): Promise<void> {
    const loaded = await this.store.load();
    if (loaded.kind === this.loaded.kind && rawOf(loaded) === rawOf(this.loaded)) return;
    if (this.refresher.holdsNewerThan(loaded)) return;
    this.log.info('auth.json changed on disk');
    this.adopt(loaded);
  }

  status(): Status {
    const loaded = this.loaded;
    const base: Status = {
      account: null,
      state: 'loggedOut',
      accessTokenExpiresAt: null,
      accessTokenExpiryNote: null,
      lastRefresh: null,
      reauthReason: null,
      lastRefreshError: null,
      nextRefreshAt: null,
      login: this.login ? { loginId: this.login.loginId, type: this.login.type } : null,
    };
    if (loaded.kind === 'missing') return { ...base, reauthReason: keyringNote(codexCredentialsStore(this.store.codexHome)) };
    if (loaded.kind === 'unusable') return { ...base, reauthReason: `auth.json cannot be used: ${loaded.reason}` };
    const { record } = loaded;
    if (record.auth_mode === 'apikey') return { ...base, account: { type: 'apiKey' }, state: 'ok' };
    const tokens = record.tokens!;
    const identity = identityOf(tokens.id_token);
    const reauthReason = this.refresher.reauthReason;
    const expiresAt = expiryMs(tokens.access_token);
    return {
      ...base,
      account: { type: 'chatgpt', email: identity.email, planType: identity.planType, accountId: tokens.account_id ?? identity.accountId },
      state: reauthReason ? 'reauthRequired' : this.refresher.refreshing ? 'refreshing' : 'ok',
      accessTokenExpiresAt: iso(expiresAt),
      accessTokenExpiryNote: expiresAt === null ? EXPIRY_UNKNOWN : null,
      lastRefresh: record.last_refresh ?? null,
      reauthReason,
      lastRefreshError: this.refresher.lastError,
      nextRefreshAt: iso(this.refresher.nextAttemptAt()),
    };
  }

  async read(refreshToken: boolean): Promise<Status> {
    if (refreshToken && this.held()) await this.refresher.ensureFresh(true);
    return this.status();
  }

  async token(forceRefresh: boolean): Promise<TokenResult> {
    if (this.loggingOut) await this.loggingOut;
    const loaded = this.loaded;
    if (loaded.kind === 'missing') throw rpcError(ErrorCodes.notLoggedIn, 'Not logged in. Run `codex-auth login`.');
    if (loaded.kind === 'unusable') {
      throw rpcError(ErrorCodes.notLoggedIn, `Not logged in: auth.json cannot be used (${loaded.reason}). Run \`codex-auth login\`.`);
    }
    if (loaded.record.auth_mode === 'apikey') return { type: 'apiKey', apiKey: loaded.record.OPENAI_API_KEY! };

    const failure = await this.refresher.ensureFresh(forceRefresh);
    if (this.loggingOut) return this.token(false); // a logout began while the token was refreshed
    const reauth = this.refresher.reauthReason;
    if (reauth) throw rpcError(ErrorCodes.reauthRequired, `${reauth} Run \`codex-auth login\`.`);
    const held = this.held();
    if (!held) return this.token(false); // the refresh adopted a different kind of login from disk
    const { access_token: accessToken, account_id: accountId } = held.record.tokens;
    const exp = expiryMs(accessToken);
    const transient = this.refresher.transientReason;
    if (transient && exp !== null && exp <= Date.now()) {
      throw rpcError(ErrorCodes.issuerUnavailable, `The access token has expired and could not be refreshed: ${transient}`);
    }
    // Asked for a new token and did not get one: the old one is not what was asked for.
    if (forceRefresh && failure) {
      throw rpcError(ErrorCodes.issuerUnavailable, `Could not refresh the access token (${failure}). Try again later; \`codex-auth status\` shows when codexd retries.`);
    }
    return { type: 'chatgpt', accessToken, accountId, expiresAt: iso(exp) };
  }

  /** `peer` is the connection that asked: the login ends when it closes, unless asked to be kept. */
  async startLogin(params: LoginStartParams, peer: Peer): Promise<LoginStartResult> {
    const readOnly = await this.store.readOnlyReason();
    if (readOnly) throw rpcError(ErrorCodes.loginFailed, `Cannot log in: ${readOnly}.`);
    const generation = this.supersedePendingLogin('Login was cancelled because a new login was started');
    if (params.type === 'apiKey') {
      await this.saveAndAdopt({ auth_mode: 'apikey', OPENAI_API_KEY: params.apiKey });
      this.log.info('logged in with an API key');
      return { type: 'apiKey' };
    }
    const context = this.loginContext(`login-${Date.now().toString(36)}-${++this.loginSequence}`);
    try {
      if (params.type === 'chatgpt') {
        const { flow, authUrl, busyPort } = await startBrowserLogin(context, this.settings);
        this.trackLogin(flow, generation);
        if (!params.keepAfterDisconnect) this.cancelOnDisconnect(flow, peer);
        if (params.openBrowser) this.openBrowser(authUrl);
        return { type: 'chatgpt', loginId: flow.loginId, authUrl, ...(busyPort === null ? {} : { busyPort }) };
      }
      const { flow, verificationUrl, userCode, expiresAt } = await startDeviceLogin(context, this.settings);
      this.trackLogin(flow, generation);
      if (!params.keepAfterDisconnect) this.cancelOnDisconnect(flow, peer);
      return { type: 'chatgptDeviceCode', loginId: flow.loginId, verificationUrl, userCode, expiresAt };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      context.log.warn(`the login could not start: ${message}`);
      throw rpcError(ErrorCodes.loginFailed, message);
    }
  }

  /** Best effort, for clients that ask the daemon to do it; the URL is always returned too. */
  private openBrowser(url: string): void {
    import('open')
      .then(({ default: open }) => open(url))
      .catch((error: Error) => this.log.warn(`could not open a browser: ${error.message}`));
  }

  /** A killed `codex-auth login` must not leave its login holding the callback port for minutes. */
  private cancelOnDisconnect(flow: LoginFlow, peer: Peer): void {
    const forget = peer.onClose(() => {
      if (this.login !== flow) return;
      this.log.info({ loginId: flow.loginId }, 'the client that started the login disconnected; cancelling it');
      flow.cancel('Login was cancelled because the client that started it disconnected');
    });
    const ended = (event: LoginCompleted): void => {
      if (event.loginId !== flow.loginId) return;
      forget();
      this.off('loginCompleted', ended);
    };
    this.on('loginCompleted', ended);
  }

  cancelLogin(loginId: string): 'canceled' | 'notFound' {
    if (!this.login || this.login.loginId !== loginId) return 'notFound';
    this.login.cancel('Login was cancelled');
    return 'canceled';
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
    if (readOnly) throw rpcError(ErrorCodes.internalError, `Cannot log out: ${readOnly}.`);
    this.supersedePendingLogin('Login was cancelled because you logged out');
    await this.refresher.settled();
    let warning: string | undefined;
    let movedAside: string | null;
    try {
      movedAside = await this.store.withAuthLock(async (writer) => {
        const disk = await writer.load();
        const current = this.refresher.holdsNewerThan(disk) ? this.held() : chatgptOf(disk);
        if (current) warning = await this.revoke(current.record.tokens);
        return writer.save(null);
      });
    } catch (error) {
      throw rpcError(ErrorCodes.internalError, `Could not save auth.json: ${(error as Error).message}`);
    }
    if (movedAside) this.log.warn({ aside: movedAside }, 'kept the unusable auth.json aside');
    this.refresher.reset();
    this.adopt(await this.store.load());
    this.log.info('logged out');
    return { ...(warning ? { warning: scrub(warning) } : {}), ...(movedAside ? { movedAside } : {}) };
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

  private held(): HeldChatgpt | null {
    return chatgptOf(this.loaded);
  }

  private adopt(loaded: Loaded): void {
    const before = this.held()?.record.tokens.account_id;
    this.loaded = loaded;
    holdSecrets(loaded.kind === 'ok' ? secretsOf(loaded.record) : []);
    if (loaded.kind === 'unusable') this.log.warn(`auth.json cannot be used: ${loaded.reason}`);
    const after = this.held()?.record.tokens.account_id;
    if (before !== after) this.refresher.reset();
    else this.refresher.rearm();
    this.announce();
  }

  /** Returns where an unusable auth.json was kept aside, if there was one. */
  private async saveAndAdopt(record: AuthRecord | null): Promise<string | null> {
    let aside: string | null;
    try {
      aside = await this.store.save(record);
    } catch (error) {
      throw rpcError(ErrorCodes.internalError, `Could not save auth.json: ${(error as Error).message}`);
    }
    if (aside) this.log.warn({ aside }, 'kept the unusable auth.json aside');
    this.refresher.reset();
    this.adopt(await this.store.load());
    return aside;
  }

  /** Sends `account/updated` when anything a client can see has changed since the last one. */
  private announce(): void {
    const status = this.status();
    const key = `${rawOf(this.loaded)}\u0000${JSON.stringify(status)}`;
    if (key === this.lastAnnounced) return;
    this.lastAnnounced = key;
    this.emit('updated', status);
  }

  /** Cancels the pending login, and any login still starting, with `reason`. */
  private supersedePendingLogin(reason: string): number {
    this.supersededBecause = reason;
    this.login?.cancel(reason);
    return ++this.loginGeneration;
  }

  private trackLogin(flow: LoginFlow, generation: number): void {
    if (generation !== this.loginGeneration) {
      // Another login or a logout began while this one was starting (binding the port, asking for a device code).
      flow.cancel(this.supersededBecause);
      throw new Error(this.supersededBecause);
    }
    this.login = flow;
    this.announce();
  }

  private loginContext(loginId: string): LoginContext {
    return {
      loginId,
      issuer: this.issuer,
      log: this.log.child({ loginId }),
      persist: (tokens, options) => this.persistChatgptLogin(tokens, options.apiKey),
      finished: ({ success, error }) => {
        if (this.login?.loginId === loginId) this.login = null;
        const safeError = error === null ? null : scrub(error);
        this.log.info({ success }, success ? 'login completed' : `login ended: ${safeError}`);
        this.emit('loginCompleted', { loginId, success, error: safeError });
        this.announce();
      },
    };
  }

  /** Persist as Codex does, then revoke the previous refresh token if it changed (best effort). */
  private async persistChatgptLogin(tokens: TokenSet, apiKey: string | null): Promise<void> {
    const previous = this.held()?.record.tokens.refresh_token;
    const accountId = identityOf(tokens.id_token).accountId;
    await this.saveAndAdopt({
      auth_mode: 'chatgpt',
      OPENAI_API_KEY: apiKey,
      tokens: { ...tokens, account_id: accountId },
      last_refresh: timestamp(),
    });
    if (previous && previous !== tokens.refresh_token) {
      this.issuer.revoke(previous, 'refresh_token').catch((error: IssuerError) => {
        this.log.warn(`could not revoke the previous login's refresh token: ${error.message}`);
      });
    }
  }
}

/** The ChatGPT login in `loaded`, or null. */
function chatgptOf(loaded: Loaded): HeldChatgpt | null {
  if (loaded.kind !== 'ok' || loaded.record.auth_mode !== 'chatgpt' || !loaded.record.tokens) return null;
  return { record: loaded.record as HeldChatgpt['record'], raw: loaded.raw };
}

function rawOf(loaded: Loaded): string {
  return loaded.kind === 'missing' ? '' : loaded.raw;
}
