// What clients ask of the accounts the daemon holds: status, list, token, switch, logout. Each
// account is a slot (./slot.ts): the active one, on auth.json, is held here; every other account,
// and every account's name, is the registry's (./registry.ts). Logins (../login/logins.ts) start
// new ones; login, switch and logout are moves between slots (./moves.ts, where their lock order
// and crash order are written down), one at a time; every change is announced.
import { EventEmitter } from 'node:events';
import { loggedOutStatus, type AccountSummary, type AutoSwitchNote, type LoginCompleted, type LogoutParams, type LogoutResult, type SessionResult, type Status, type TokenResult } from '../../shared/protocol.js';
import type { InactiveStore } from './files.js';
import { AccountRegistry } from './registry.js';
import { accountKey } from './identity.js';
import { AccountMoves } from './moves.js';
import { StatusAnnouncer } from './announcer.js';
import { AccountSlot } from './slot.js';
import { CredentialStoreUnavailable, IssuerUnavailable, LoginFailed, NotLoggedIn, ReauthRequired, saveFailure, StorageFailed } from '../errors.js';
import type { IssuerClient } from '../auth/issuer.js';
import { expiryMs, identityOf, isoTime } from '../auth/jwt.js';
import type { Logger } from '../runtime/log.js';
import { Logins } from '../login/logins.js';
import { Mutex } from '../runtime/mutex.js';
import { RESTRICTED_FORCED_REFRESH_GAP_MS, STALE_AFTER_DAYS } from '../auth/refresher.js';
import { mirroredSession } from '../auth/login-state.js';
import type { Settings } from '../runtime/settings.js';
import type { AuthRecord, AuthStore, Loaded } from '../auth/store.js';

export interface AccountEvents {
  updated: [Status];
  loginCompleted: [LoginCompleted];
}

type ChatgptTokens = NonNullable<AuthRecord['tokens']>;
type ChatgptTokenResult = Extract<TokenResult, { type: 'chatgpt' }>;

/**
 * account/token's answer for the tokens held, built once per tokens object: frozen, and the same
 * object until the login changes, so that the server serializes it once (rpc/server.ts).
 */
const tokenResults = new WeakMap<ChatgptTokens, ChatgptTokenResult>();

function tokenResult(login: AuthRecord): TokenResult {
  return login.auth_mode === 'apikey' ? { type: 'apiKey', apiKey: login.OPENAI_API_KEY! } : tokenResultOf(login.tokens!);
}

function tokenResultOf(tokens: ChatgptTokens): ChatgptTokenResult {
  const { access_token: accessToken, account_id: accountId } = tokens;
  let result = tokenResults.get(tokens);
  if (result?.accessToken !== accessToken || result.accountId !== accountId) {
    result = Object.freeze({ type: 'chatgpt', accessToken, accountId, expiresAt: isoTime(expiryMs(accessToken)) } as const);
    tokenResults.set(tokens, result);
  }
  return result;
}

const EXPIRY_UNKNOWN = `the access token carries no valid expiry time (exp), so it is refreshed ${STALE_AFTER_DAYS} days after the last refresh, as Codex does`;

export class AccountService extends EventEmitter<AccountEvents> {
  private readonly announcer: StatusAnnouncer;
  /** What SWITCH_AT last did (../usage/auto-switch.ts), shown in Status until it does something else. */
  private autoSwitch: AutoSwitchNote | null = null;
  /** Set while a logout runs: no token is handed out until it has finished. */
  private loggingOut: Promise<void> | null = null;
  /** The active account: the login auth.json holds. */
  private readonly active: AccountSlot;
  /** Every other account, and the names of all. */
  private readonly accounts: AccountRegistry;
  private readonly moves: AccountMoves;
  /** Switches, saved logins, logouts and re-reads of auth.json move logins around: one at a time (lock 1 in ./moves.ts). */
  private readonly changes = new Mutex();
  readonly logins: Logins;

  constructor(
    private readonly store: AuthStore,
    files: InactiveStore,
    private readonly issuer: IssuerClient,
    settings: Settings,
    private readonly log: Logger,
  ) {
    super();
    const refresherOptions = {
      marginMs: settings.refreshMarginS * 1000,
      backoffBaseMs: settings.refreshBackoffBaseMs,
      backoffMaxMs: settings.refreshBackoffMaxMs,
      tickMs: settings.tickS * 1000,
    };
    this.active = AccountSlot.refreshed(store, issuer, refresherOptions, log);
    this.announcer = new StatusAnnouncer(this.active, () => this.status(), (status) => this.emit('updated', status));
    this.accounts = new AccountRegistry(this.active, files, issuer, refresherOptions, log, () => this.announce());
    this.moves = new AccountMoves(store, this.active, this.accounts, issuer, log);
    this.logins = new Logins(store, issuer, (record, name) => this.saveLogin(record, name), settings, log);
    this.active.on('changed', () => this.announce());
    this.logins.on('completed', (event) => this.emit('loginCompleted', event));
    this.logins.on('changed', () => this.announce());
  }

  /** Reads auth.json, then the account files; a copy of auth.json's login among them goes (see the crash order in ./moves.ts). */
  async start(): Promise<void> {
    const readOnly = await this.store.readOnlyReason();
    if (readOnly) this.log.warn(readOnly);
    try {
      this.active.adopt(await this.store.load());
    } catch (error) {
      // The keyring cannot be read now: status says why, and the next poll tries again.
      this.log.warn((error as Error).message);
    }
    const copiesOfActive = await this.accounts.load(readOnly);
    if (!readOnly) for (const key of copiesOfActive) await this.moves.removeCopyOfActive(key);
  }

  stop(): void {
    this.active.stop();
    this.logins.stop();
    this.accounts.stop();
  }

  /** Re-reads the login; called when auth.json or the keyring entry may have changed under us. */
  async reload(): Promise<void> {
    await this.changes.run(() => this.reloadLocked());
  }

  private async reloadLocked(): Promise<void> {
    let loaded: Loaded;
    try {
      loaded = await this.store.load();
    } catch (error) {
      this.announce(); // a keyring that stopped answering is news too
      throw error;
    }
    const held = this.active.loaded;
    if ((loaded.kind === held.kind && rawOf(loaded) === rawOf(held)) || this.active.holdsNewerThan(loaded)) {
      this.announce(); // and so is one that answers again
      return;
    }
    this.log.info(`the login changed in ${this.storeName()}`);
    this.active.adopt(loaded);
    // Another writer logged in to an account that is also kept inactive: auth.json wins.
    const copy = this.accounts.dropCopyOfActive();
    if (copy !== null) {
      await this.moves.removeCopyOfActive(copy);
      this.announce();
    }
  }

  /**
   * config.toml moved the login to another credential store: the login is read from there, and
   * the inactive accounts are those of that store (AccountRegistry.rescan); nothing is moved.
   */
  async credentialStoreChanged(): Promise<void> {
    await this.changes
      .run(async () => {
        // Every account keeps the name it has, the active one too, before the store changes under it.
        this.accounts.freezeNames();
        const before = this.accounts.namesByKey();
        await this.reloadLocked().catch((error: Error) => this.log.warn(`could not re-read the login: ${error.message}`));
        const copiesOfActive = await this.accounts.rescan(before);
        for (const key of copiesOfActive) await this.moves.removeCopyOfActive(key);
        this.announce();
      })
      .catch((error: Error) => this.log.warn(`could not read the accounts of the new credential store: ${error.message}`));
  }

  status(): Status {
    const loaded = this.active.loaded;
    const base = loggedOutStatus({ login: this.logins.pending, upstream: null, accounts: this.accounts.list(), credentialStore: this.store.credentialStore(), autoSwitch: this.autoSwitch });
    if (loaded.kind === 'missing') return { ...base, reauthReason: this.storeProblem() };
    if (loaded.kind === 'unusable') return { ...base, reauthReason: `${this.storeName()} cannot be used: ${loaded.reason}` };
    const { record } = loaded;
    if (record.auth_mode === 'apikey') return { ...base, account: { type: 'apiKey' }, state: 'ok' };
    const tokens = record.tokens!;
    const identity = identityOf(tokens.id_token);
    const reauthReason = this.active.reauthReason;
    const expiresAt = expiryMs(tokens.access_token);
    return {
      ...base,
      account: { type: 'chatgpt', email: identity.email, planType: identity.planType, accountId: tokens.account_id ?? identity.accountId },
      state: this.active.accountState(),
      accessTokenExpiresAt: isoTime(expiresAt),
      accessTokenExpiryNote: expiresAt === null ? EXPIRY_UNKNOWN : null,
      lastRefresh: record.last_refresh ?? null,
      reauthReason,
      lastRefreshError: this.active.lastError,
      nextRefreshAt: isoTime(this.active.nextAttemptAt()),
    };
  }

  /** Every account, the active one first, then by name. */
  list(): AccountSummary[] {
    return this.accounts.list();
  }

  /** `restricted`: asked on the restricted socket, where forced refreshes are rate-limited. */
  async read(refreshToken: boolean, restricted = false): Promise<Status> {
    if (refreshToken && this.active.held()) await this.active.ensureFresh(true, forcedGap(restricted));
    return this.status();
  }

  /**
   * The credential of the account `name` (default: the active one), without switching to it; at
   * once, not as a promise, when the login held needs no refresh (see freshLogin).
   */
  token(forceRefresh: boolean, name?: string, restricted = false): TokenResult | Promise<TokenResult> {
    const login = this.freshLogin(forceRefresh, name, forcedGap(restricted));
    return login instanceof Promise ? login.then(tokenResult) : tokenResult(login);
  }

  /** What a follower mirrors: the fresh login without its refresh token. */
  async sessionForFollower(): Promise<SessionResult> {
    return mirroredSession(await this.freshLogin(false));
  }

  /**
   * Makes the account `name` the one auth.json holds, the one Codex uses: the switch every trigger
   * (a command, a limit) goes through. `because`: SWITCH_AT's reason, announced with the switch.
   */
  async switchTo(name: string, because?: string): Promise<AccountSummary> {
    await this.changes.run(async () => {
      const key = this.accounts.keyNamed(name);
      if (key === this.accounts.activeKey()) return;
      const readOnly = await this.store.readOnlyReason();
      if (readOnly) throw new StorageFailed(`Cannot switch accounts: ${readOnly}.`);
      this.accounts.freezeNames();
      const from = this.accounts.list().find((account) => account.active)?.name;
      const before = this.autoSwitch;
      // Set first: the announcements the move makes carry it.
      if (because !== undefined && from !== undefined) this.autoSwitch = { at: new Date().toISOString(), from, to: name, reason: because };
      try {
        await this.moves.activate(key, null);
      } catch (error) {
        this.autoSwitch = before;
        throw saveFailure(error, 'Could not switch accounts');
      }
      this.log.info({ account: key, ...(because === undefined ? {} : { reason: because }) }, because === undefined ? 'switched accounts' : 'switched accounts before a usage limit');
    });
    return this.accounts.list().find((account) => account.name === name)!;
  }

  /** SWITCH_AT found no account to switch to: said once in Status and `account/updated`. */
  noteLimits(from: string, reason: string): void {
    this.autoSwitch = { at: new Date().toISOString(), from, to: null, reason };
    this.log.warn(reason);
    this.announce();
  }

  /**
   * The login held by the account `name` (default: the active one), refreshed first when due (or
   * when forced); throws when there is none to serve. It waits (returns a promise) only for a
   * logout or a refresh: the login at hand comes at once, with no turn through the microtask queue.
   */
  private freshLogin(forceRefresh: boolean, name?: string, forcedGapMs?: number): AuthRecord | Promise<AuthRecord> {
    if (this.loggingOut) return this.loggingOut.then(() => this.heldLogin(forceRefresh, name, forcedGapMs));
    return this.heldLogin(forceRefresh, name, forcedGapMs);
  }

  private heldLogin(forceRefresh: boolean, name?: string, forcedGapMs?: number): AuthRecord | Promise<AuthRecord> {
    const slot = this.target(name);
    const loaded = slot.loaded;
    if (loaded.kind === 'missing') {
      const problem = name === undefined ? this.storeProblem() : null;
      if (problem) throw new CredentialStoreUnavailable(`Cannot read the login: ${problem}`);
      throw new NotLoggedIn(`Not logged in. Run \`codex-auth login\`${this.accounts.inactiveCount > 0 ? ', or `codex-auth switch NAME` to one of your accounts (`codex-auth accounts` lists them)' : ''}.`);
    }
    if (loaded.kind === 'unusable') {
      throw new NotLoggedIn(`Not logged in: ${name === undefined ? this.storeName() : 'its account file'} cannot be used (${loaded.reason}). Run \`codex-auth login\`.`);
    }
    if (loaded.record.auth_mode === 'apikey') return loaded.record;

    const failure = slot.ensureFresh(forceRefresh, forcedGapMs);
    if (failure instanceof Promise) return failure.then((outcome) => this.refreshedLogin(slot, forceRefresh, name, outcome));
    return this.refreshedLogin(slot, forceRefresh, name, failure);
  }

  /** The login `slot` holds once ensureFresh has given `failure` (null: refreshed, or nothing to do). */
  private refreshedLogin(slot: AccountSlot, forceRefresh: boolean, name: string | undefined, failure: string | null): AuthRecord | Promise<AuthRecord> {
    const again = (): AuthRecord | Promise<AuthRecord> => this.freshLogin(false, name);
    // A logout began while the token was refreshed, or a switch moved the account.
    if (this.loggingOut || this.target(name) !== slot) return again();
    const reauth = slot.reauthReason;
    if (reauth) throw new ReauthRequired(`${reauth} Run \`codex-auth login${name === undefined ? '' : ` --name ${name}`}\`.`);
    const held = slot.held();
    if (!held) return again(); // the refresh adopted a different kind of login from disk
    const exp = expiryMs(held.record.tokens.access_token);
    const transient = slot.transient?.reason;
    if (transient && exp !== null && exp <= Date.now()) {
      throw new IssuerUnavailable(`The access token has expired and could not be refreshed: ${transient}`);
    }
    // Asked for a new token and did not get one: the old one is not what was asked for.
    if (forceRefresh && failure) {
      throw new IssuerUnavailable(`Could not refresh the access token (${failure}). Try again later; \`codex-auth status\` shows when codexd retries.`);
    }
    return held.record;
  }

  /** The slot of the account `name`; the active one when `name` is not given. */
  private target(name: string | undefined): AccountSlot {
    const inactive = name === undefined ? undefined : this.accounts.inactive(this.accounts.keyNamed(name));
    return inactive ?? this.active;
  }

  /**
   * A login was made: it adds its account, or updates it in place, and makes it the active one.
   * A login of an account that replaces its tokens revokes the old refresh token (best effort).
   */
  private async saveLogin(record: AuthRecord, name: string | undefined): Promise<string | null> {
    return this.changes.run(async () => {
      const key = accountKey(record);
      this.accounts.freezeNames();
      const owner = name === undefined ? undefined : this.accounts.ownerOfName(name);
      // A new API key under the name of an API-key account replaces that account's key (key rotation).
      const rotated = owner !== undefined && owner !== key && record.auth_mode === 'apikey' && this.accounts.list().some((account) => account.name === name && account.type === 'apiKey') ? owner : undefined;
      if (owner !== undefined && owner !== key && rotated === undefined) {
        throw new LoginFailed(`The name "${name}" belongs to another account; choose another name, or log out of that account first.`);
      }
      const replaced = (key === this.accounts.activeKey() ? this.active : this.accounts.inactive(key))?.login() ?? null;
      let aside: string | null;
      try {
        aside = await this.moves.activate(key, record);
      } catch (error) {
        throw saveFailure(error);
      }
      if (rotated !== undefined) {
        // Active or not before, the old key is an inactive account now: it goes, and its name with it.
        await this.logoutInactive(rotated);
        this.accounts.forgetName(rotated);
        this.log.info({ account: rotated }, 'replaced an API key');
      }
      if (name !== undefined) this.accounts.giveName(key, name);
      await this.accounts.saveNames();
      this.announce();
      const previous = replaced?.tokens?.refresh_token;
      if (previous && previous !== record.tokens?.refresh_token) {
        this.issuer.revoke(previous, 'refresh_token').catch((error: Error) => {
          this.log.warn(`could not revoke the replaced login's refresh token: ${error.message}`);
        });
      }
      return aside;
    });
  }

  async logout(params: LogoutParams = {}): Promise<LogoutResult> {
    const done = this.changes.run(() => this.logoutOnce(params));
    const pending = done.then(() => undefined, () => undefined);
    this.loggingOut = pending;
    try {
      return await done;
    } finally {
      if (this.loggingOut === pending) this.loggingOut = null;
    }
  }

  /** No params: the active account. `name`: that account. `all`: every account. */
  private async logoutOnce({ name, all }: LogoutParams): Promise<LogoutResult> {
    const keys = all ? this.accounts.inactiveKeys() : name === undefined ? [] : [this.accounts.keyNamed(name)];
    // Before revoking: a revoked login left on a disk we cannot change would be worse than none.
    const readOnly = await this.store.readOnlyReason();
    if (readOnly) throw new StorageFailed(`Cannot log out: ${readOnly}.`);
    this.accounts.freezeNames();
    const active = this.accounts.activeKey();
    const warnings: string[] = [];
    for (const key of keys.filter((key) => key !== active)) {
      const warning = await this.logoutInactive(key);
      if (warning) warnings.push(warning);
      this.accounts.forgetName(key);
    }
    let movedAside: string | null = null;
    let activated: string | null = null;
    if (all || name === undefined || keys.includes(active!)) {
      const result = await this.logoutActive();
      if (result.warning) warnings.push(result.warning);
      movedAside = result.movedAside ?? null;
      if (active !== null) this.accounts.forgetName(active);
      // As `gh auth logout`: another account, if there is one, becomes the active one.
      if (!all) activated = await this.activateAnother();
    }
    await this.accounts.saveNames();
    return { ...(warnings.length > 0 ? { warning: warnings.join(' ') } : {}), ...(movedAside ? { movedAside } : {}), ...(activated ? { activated } : {}) };
  }

  /** After the active account's logout: the first inactive account that needs no new sign-in (else the first) becomes active; its name, or null when there is none. */
  private async activateAnother(): Promise<string | null> {
    const inactive = this.accounts.list().filter((account) => !account.active);
    const next = inactive.find((account) => account.state !== 'reauthRequired') ?? inactive[0];
    if (!next) return null;
    try {
      await this.moves.activate(this.accounts.keyNamed(next.name), null);
    } catch (error) {
      this.log.warn(`after the logout, could not make ${next.name} the active account: ${(error as Error).message}`);
      return null;
    }
    this.log.info({ account: next.name }, 'made another account active after the logout');
    this.announce();
    return next.name;
  }

  /** A refresh in flight is spending the refresh token on disk: it settles first. */
  private async logoutActive(): Promise<LogoutResult> {
    this.logins.supersede('Login was cancelled because you logged out');
    await this.active.settled();
    let result: LogoutResult;
    try {
      result = await this.moves.logoutActive();
    } catch (error) {
      throw saveFailure(error);
    }
    if (result.movedAside) this.log.warn({ aside: result.movedAside }, 'kept the unusable auth.json aside');
    this.log.info('logged out');
    return result;
  }

  private async logoutInactive(key: string): Promise<string | undefined> {
    const warning = await this.moves.logoutInactive(key);
    this.log.info({ account: key }, 'logged out of an inactive account');
    this.announce();
    return warning;
  }

  /** Why the keyring (where config.toml keeps the login) cannot be read now, or null. */
  private storeProblem(): string | null {
    const store = this.store.credentialStore();
    return store.configured === 'keyring' ? store.problem : null;
  }

  private storeName(): string {
    return this.store.credentialStore().using === 'keyring' ? 'the OS keyring entry' : 'auth.json';
  }

  private announce(): void {
    this.announcer.announce();
  }
}

/** How long after the last grant a forced refresh gets that grant's token; undefined: the refresher's default. */
function forcedGap(restricted: boolean): number | undefined {
  return restricted ? RESTRICTED_FORCED_REFRESH_GAP_MS : undefined;
}

function rawOf(loaded: Loaded): string {
  return loaded.kind === 'missing' ? '' : loaded.raw;
}
