// Follower mode (`codexd --upstream PATH`; docs/remote.md). The login
// lives in the upstream codexd, usually on another machine at the end of `ssh -R`. The follower
// mirrors it into its own auth.json (Codex's format, under Codex's locks, without the refresh
// token) whenever the upstream announces a change, and serves status and tokens from that
// mirror: an account slot (../accounts/slot.ts) whose source is the upstream. It never sends a
// request to the issuer: it does not refresh, log in or log out.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { CodexdError } from '../../shared/errors.js';
import { FOLLOWER_REFRESH_TOKEN } from '../../shared/paths.js';
import { ErrorCodes, loggedOutStatus, Requests, type AccountSummary, type LogoutResult, type SessionResult, type Status, type TokenResult } from '../../shared/protocol.js';
import type { AccountEvents } from '../accounts/service.js';
import { StatusAnnouncer } from '../accounts/announcer.js';
import { AccountSlot, type LoginSource } from '../accounts/slot.js';
import { IssuerUnavailable, LoginUpstream, NotLoggedIn, ReauthRequired } from '../errors.js';
import { expiryMs, identityOf, isoTime } from '../auth/jwt.js';
import type { Logger } from '../runtime/log.js';
import { mirroredSession } from '../auth/login-state.js';
import { StartupError } from '../runtime/socket.js';
import { serialize, timestamp, type AuthRecord, type AuthStore } from '../auth/store.js';
import { RepeatedFailure } from '../runtime/repeats.js';
import { MirrorNote } from './own-login.js';
import { checkSession, foreignText, SessionRefused } from './session-check.js';
import { LinkDown, UpstreamLink, type UpstreamOptions } from './upstream.js';

/** How long start-up waits for the upstream's first answer, so that a client that started the daemon finds the login. */
const FIRST_ANSWER_WAIT_MS = 3000;

/** Longest delay a Node timer honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `text` ending in one full stop (the upstream's messages bring their own). */
function sentence(text: string): string {
  return text.endsWith('.') ? text : `${text}.`;
}

/** The login a session holds, as the mirror keeps it (last_refresh as the upstream sent it). */
function heldRecordOf(session: SessionResult): AuthRecord {
  if (session.authMode === 'apikey') return { auth_mode: 'apikey', OPENAI_API_KEY: session.apiKey };
  return {
    auth_mode: 'chatgpt',
    OPENAI_API_KEY: null,
    tokens: { id_token: session.idToken, access_token: session.accessToken, refresh_token: FOLLOWER_REFRESH_TOKEN, account_id: session.accountId },
    ...(session.lastRefresh === null ? {} : { last_refresh: session.lastRefresh }),
  };
}

/** auth.json for a session, as Codex writes one: Codex counts tokens without last_refresh as unavailable. */
function recordOf(session: SessionResult): AuthRecord {
  const record = heldRecordOf(session);
  return record.auth_mode === 'chatgpt' ? { ...record, last_refresh: record.last_refresh ?? timestamp() } : record;
}

export class Follower extends EventEmitter<AccountEvents> {
  private readonly link: UpstreamLink;
  private linkState: { state: 'connected' | 'disconnected'; since: number } = { state: 'disconnected', since: Date.now() };
  /** CODEX_HOME on the upstream machine, as its `initialize` says; for messages. */
  private upstreamHome: string | null = null;
  /** Why the last attempt to connect failed, while the link is down. */
  private linkFailure: string | null = null;
  /** The upstream's login as last received. */
  private readonly slot: AccountSlot;
  /** The upstream's answer when it had no session to give (not logged in, sign-in needed). */
  private refusal: { code: number; message: string } | null = null;
  /** Why the last sync failed while the link was up (the upstream could not refresh, say). */
  private syncError: string | null = null;
  private readonly syncFailures: RepeatedFailure;
  private readonly note: MirrorNote;
  /** A login of this machine's own found in auth.json (what kind): the mirroring stops while it is there. */
  private ownLogin: string | null = null;
  private noteLoaded = false;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly announcer: StatusAnnouncer;
  private firstSynced: () => void = () => undefined;
  /** Logins happen upstream; there is never one pending here. */
  readonly logins = {
    start: (): never => {
      throw new LoginUpstream(this.livesUpstream('login'));
    },
    cancel: (): 'notFound' => 'notFound',
  };

  constructor(
    private readonly store: AuthStore,
    link: Omit<UpstreamOptions, 'log'>,
    private readonly log: Logger,
  ) {
    super();
    this.syncFailures = new RepeatedFailure(log);
    this.slot = new AccountSlot(store, () => this.upstreamSource(), log);
    this.announcer = new StatusAnnouncer(this.slot, () => this.status(), (status) => this.emit('updated', status));
    this.note = new MirrorNote(store.codexHome);
    this.link = new UpstreamLink({ ...link, log });
    this.link.on('connected', (served) => {
      this.upstreamHome = typeof served.codexHome === 'string' ? foreignText(served.codexHome) : null;
      this.linkFailure = null;
      this.linkState = { state: 'connected', since: Date.now() };
      clearTimeout(this.expiryTimer);
      // Announced once the upstream's session is in: until then the old token may look usable.
      this.syncInBackground();
    });
    this.link.on('disconnected', () => this.disconnected());
    this.link.on('unreachable', (why) => {
      this.linkFailure = foreignText(why);
      this.announce();
    });
    this.link.on('changed', () => this.syncInBackground());
  }

  /** Serves what an earlier run mirrored until the upstream answers; refuses to overwrite a login of this home's own. */
  async start(): Promise<void> {
    // Unread, a login of this home's own could not be told from a mirror: refuse to start over it.
    const loaded = await this.store.load().catch((error: Error) => {
      throw new StartupError(`cannot read the login of ${this.store.codexHome}: ${error.message}`);
    });
    await this.note.load();
    this.noteLoaded = true;
    const own = this.note.ownLoginIn(loaded);
    if (own) {
      throw new StartupError(
        `${this.store.file} holds a login of its own (${own}), which following ${this.link.path} would overwrite; log it out first (codex-auth logout, without --upstream), or follow into another CODEX_HOME`,
      );
    }
    if (loaded.kind === 'ok') this.slot.adopt(loaded);
    const answered = new Promise<void>((resolve) => {
      this.firstSynced = resolve;
      this.link.once('unreachable', () => resolve());
    });
    this.link.start();
    // Bounded: a link that hangs must not hold up start-up (autostart waits 5 s in all).
    await Promise.race([answered, sleep(FIRST_ANSWER_WAIT_MS, undefined, { ref: false })]);
  }

  /** The instance ids of the upstream chain, for this daemon's `initialize` (loop detection). */
  get upstreamInstanceIds(): readonly string[] {
    return this.link.upstreamInstanceIds;
  }

  stop(): void {
    this.link.stop();
    this.slot.stop();
    clearTimeout(this.expiryTimer);
  }

  status(): Status {
    const base = loggedOutStatus({
      login: null,
      credentialStore: this.store.credentialStore(),
      upstream: { path: this.link.path, state: this.linkState.state, since: isoTime(this.linkState.since)! },
      accounts: [],
    });
    const { mirror } = this;
    if (this.ownLogin) return { ...base, reauthReason: this.stoppedReason(this.ownLogin) };
    if (!mirror) return { ...base, reauthReason: this.refusalReason() ?? this.syncError ?? (this.connected ? null : `no login mirrored yet: ${this.linkDown()}`) };
    if (mirror.authMode === 'apikey') return { ...base, account: { type: 'apiKey' }, state: 'ok' };
    const identity = identityOf(mirror.idToken);
    const expiresAt = expiryMs(mirror.accessToken);
    const reauthReason = this.reauthReason(expiresAt);
    return {
      ...base,
      account: { type: 'chatgpt', email: identity.email, planType: identity.planType, accountId: mirror.accountId ?? identity.accountId },
      state: reauthReason ? 'reauthRequired' : 'ok',
      accessTokenExpiresAt: isoTime(expiresAt),
      accessTokenExpiryNote: expiresAt === null ? 'the access token carries no valid expiry time (exp); the upstream codexd decides when it is refreshed' : null,
      lastRefresh: mirror.lastRefresh,
      reauthReason,
      lastRefreshError: this.syncError,
    };
  }

  async read(refreshToken: boolean): Promise<Status> {
    if (refreshToken && this.connected) await this.sync();
    return this.status();
  }

  /** Only the upstream's active account is mirrored; its other accounts stay there. */
  async token(forceRefresh: boolean, name?: string): Promise<TokenResult> {
    if (name !== undefined) throw new LoginUpstream(this.livesUpstream(`token --account ${name}`));
    const session = await this.current(forceRefresh);
    if (session.authMode === 'apikey') return { type: 'apiKey', apiKey: session.apiKey };
    return { type: 'chatgpt', accessToken: session.accessToken, accountId: session.accountId, expiresAt: isoTime(expiryMs(session.accessToken)) };
  }

  /** A follower can be another follower's upstream. */
  sessionForFollower(): Promise<SessionResult> {
    return this.current(false);
  }

  logout(): Promise<LogoutResult> {
    throw new LoginUpstream(this.livesUpstream('logout'));
  }

  /** The accounts are the upstream's. */
  list(): AccountSummary[] {
    return [];
  }

  switchTo(name: string): Promise<AccountSummary> {
    throw new LoginUpstream(this.livesUpstream(`switch ${name}`));
  }

  /** The upstream's login as last received; null when there is none. */
  private get mirror(): SessionResult | null {
    const record = this.slot.login();
    return record === null ? null : mirroredSession(record);
  }

  /** The slot's source: only the upstream refreshes; a forced refresh asks it to, then fetches what it announces. */
  private upstreamSource(): LoginSource {
    return {
      nextAttemptAt: () => null,
      ensureFresh: async (force) => {
        if (!force) return null;
        try {
          await this.link.request(Requests.accountToken, { forceRefresh: true }, true);
        } catch (error) {
          return error instanceof LinkDown ? this.linkDown() : `${this.upstreamName} answered: ${foreignText((error as Error).message)}`;
        }
        await this.sync();
        return null;
      },
      settled: async () => {
        await this.syncing;
      },
      stop: () => undefined,
    };
  }

  private get connected(): boolean {
    return this.linkState.state === 'connected';
  }

  private get upstreamName(): string {
    return `the upstream codexd on ${this.link.path}${this.upstreamHome ? ` (CODEX_HOME ${this.upstreamHome} there)` : ''}`;
  }

  private livesUpstream(command: string): string {
    return `The login lives on the upstream machine (${this.upstreamName}): run \`codex-auth ${command}\` there.`;
  }

  private linkDown(): string {
    return `the link to ${this.upstreamName} is down since ${isoTime(this.linkState.since)}${this.linkFailure ? ` (${this.linkFailure})` : ''}`;
  }

  private stoppedReason(own: string): string {
    return (
      `this follower stopped mirroring ${this.upstreamName}: ${this.store.file} holds a login made on this machine (${own}), which it leaves as it is. ` +
      'To use that login, stop this follower (`codex-auth daemon stop`, and unset CODEXD_UPSTREAM if you set it) so that a codexd of this machine\'s own serves it; ' +
      'to follow again, log that login out here (`codex logout`): the follower takes up the mirror again'
    );
  }

  /** What the upstream said, without its advice (`Run \`codex-auth login\``): that is for its own machine, and reads here as if for this one. */
  private refusalReason(): string | null {
    return this.refusal ? `${this.upstreamName} answered: ${this.refusal.message.replace(/\s*Run `codex-auth [\s\S]*$/, '')}` : null;
  }

  private reauthReason(expiresAt: number | null): string | null {
    if (this.refusal?.code === ErrorCodes.reauthRequired) return this.refusalReason();
    if (!this.connected && expiresAt !== null && expiresAt <= Date.now()) return `${this.linkDown()}, and the access token expired at ${isoTime(expiresAt)}`;
    return null;
  }

  /** The mirrored login, for a token or a session; throws when there is none to serve. */
  private async current(forceRefresh: boolean): Promise<SessionResult> {
    if (forceRefresh) {
      const failure = await this.slot.ensureFresh(true);
      if (failure) throw new IssuerUnavailable(`Could not refresh the access token: ${failure}.`);
    } else if (this.connected && this.expired()) {
      await this.sync(); // the upstream may hold a newer token than it has announced yet
    }
    const status = this.status();
    const { mirror } = this;
    if (!mirror) throw new NotLoggedIn(`${sentence(`Not logged in: ${status.reauthReason ?? `nothing mirrored from ${this.upstreamName} yet`}`)} Run \`codex-auth login\` on the upstream machine.`);
    if (status.state === 'reauthRequired') throw new ReauthRequired(sentence(status.reauthReason!));
    if (this.expired()) {
      throw new IssuerUnavailable(`The access token has expired and ${this.upstreamName} has no newer one${this.syncError ? `: ${this.syncError}` : ''}.`);
    }
    return mirror;
  }

  private expired(): boolean {
    const exp = this.mirror?.authMode === 'chatgpt' ? expiryMs(this.mirror.accessToken) : null;
    return exp !== null && exp <= Date.now();
  }

  private disconnected(): void {
    this.linkState = { state: 'disconnected', since: Date.now() };
    this.syncError = null;
    // Nothing else happens when the last token expires: announce the change it makes to the status.
    const exp = this.mirror?.authMode === 'chatgpt' ? expiryMs(this.mirror.accessToken) : null;
    if (exp !== null && exp > Date.now()) {
      this.expiryTimer = setTimeout(() => this.announce(), Math.min(exp - Date.now() + 1, MAX_TIMER_MS));
      this.expiryTimer.unref();
    }
    this.announce();
  }

  /** For events, which nobody awaits: a sync that fails all the same is logged, never left unhandled. */
  private syncInBackground(): void {
    this.sync().catch((error: Error) => this.log.error(`could not mirror the upstream's login: ${error.message}`));
  }

  /** Fetches the upstream's session and mirrors it; calls made while one runs share one more run after it. */
  private sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        await this.syncOnce();
      } while (this.syncAgain);
    })().finally(() => (this.syncing = null));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    try {
      // Checked before it touches memory or disk: a bad session leaves the last good mirror in place.
      const session = checkSession(await this.link.request<unknown, unknown>(Requests.accountSession, {}));
      this.refusal = null;
      this.syncError = null;
      this.syncFailures.ended();
      await this.mirrorToDisk(session);
    } catch (error) {
      if (error instanceof LinkDown || !this.connected) return; // the link dropped: status says so
      const message = foreignText((error as Error).message);
      if (error instanceof CodexdError && (error.code === ErrorCodes.notLoggedIn || error.code === ErrorCodes.reauthRequired)) {
        this.refusal = { code: error.code, message };
        this.syncError = null;
        this.syncFailures.ended();
        if (error.code === ErrorCodes.notLoggedIn) await this.mirrorToDisk(null);
      } else {
        this.syncError =
          error instanceof SessionRefused
            ? `refused the login ${this.upstreamName} sent: ${message}; ${this.mirror ? 'serving the last good one' : 'nothing to serve until it sends a good one'}`
            : `${this.upstreamName} answered: ${message}`;
        this.syncFailures.failed(this.syncError);
      }
    } finally {
      this.firstSynced();
    }
    this.announce();
  }

  /**
   * Holds `session` and writes it as auth.json (null removes it), unless the file already says the
   * same, or holds a login of this machine's own: that one is left as it is, and the mirroring stops.
   */
  private async mirrorToDisk(session: SessionResult | null): Promise<void> {
    const record = session && recordOf(session);
    try {
      // Under auth.lock, which `codex login` takes too: no login of its own can slip in between the check and the write.
      const own = await this.store.withAuthLock(async (writer) => {
        const disk = await writer.load();
        const found = this.note.ownLoginIn(disk);
        if (found) return found;
        this.holdOrForget(session);
        // auth.json holds the pretty form, the keyring entry the compact one.
        const same = record ? disk.kind === 'ok' && (disk.raw === serialize(record) || disk.raw === serialize(record, true)) : disk.kind === 'missing';
        if (same) return null;
        const unnoted = record && (await this.note.writing(record));
        if (unnoted) this.log.warn(unnoted);
        await writer.save(record);
        this.log.info(record ? 'wrote the upstream\'s login to auth.json' : 'the upstream is logged out: removed auth.json');
        return null;
      });
      this.foundOwnLogin(own);
    } catch (error) {
      if (!this.ownLogin) this.holdOrForget(session);
      this.log.warn(`could not write ${this.store.file}: ${(error as Error).message}; serving the upstream's login from memory`);
    }
  }

  /** auth.json changed under the follower: a login of this machine's own stops the mirroring, and once it is gone the mirror is taken up again. */
  async recheck(): Promise<void> {
    if (!this.noteLoaded) return; // start() reads auth.json itself
    const stopped = this.ownLogin;
    this.foundOwnLogin(this.note.ownLoginIn(await this.store.load()));
    if (stopped && !this.ownLogin && this.connected) await this.sync();
  }

  private foundOwnLogin(own: string | null): void {
    if (own === this.ownLogin) return;
    this.ownLogin = own;
    if (own) {
      this.slot.replace({ kind: 'missing' });
      this.log.warn(this.stoppedReason(own));
    } else {
      this.log.info(`${this.store.file} holds no login of this machine's own any more: mirroring ${this.upstreamName} again`);
    }
    this.announce();
  }

  private holdOrForget(session: SessionResult | null): void {
    if (!session) {
      this.slot.replace({ kind: 'missing' });
      return;
    }
    const record = heldRecordOf(session);
    this.slot.adopt({ kind: 'ok', record, raw: serialize(record) });
  }

  private announce(): void {
    this.announcer.announce();
  }
}
