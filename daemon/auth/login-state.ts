// The state of one login the daemon holds: the record last read from (or written to) its
// storage, the rotated tokens not yet written (the unsaved overlay), whether a refresh is in
// flight and why the last one failed. Every change emits `changed`. Its one writer is the
// account slot that holds it (../accounts/slot.ts), through the slot's own refresher; everyone
// else sees it as a `LoginView`.
import { EventEmitter } from 'node:events';
import type { SessionResult } from '../../shared/protocol.js';
import { expiryMs, isoTime } from './jwt.js';
import type { Logger } from '../runtime/log.js';
import { holdSecrets } from '../runtime/secrets.js';
import { secretsOf, serialize, type AuthRecord, type Loaded } from './store.js';

export interface HeldChatgpt {
  record: AuthRecord & { tokens: NonNullable<AuthRecord['tokens']> };
  raw: string;
}

export interface TransientFailure {
  reason: string;
  failures: number;
  retryAt: number;
}

export class LoginState extends EventEmitter<{ changed: [] }> {
  private current: Loaded = { kind: 'missing' };
  /**
   * Tokens the issuer rotated that could not be written (a full disk, say). The old refresh
   * token is already spent, so these are held and served from memory until the write succeeds;
   * `basedOn` is the file they replace.
   */
  private unsavedTokens: { record: AuthRecord; basedOn: string } | null = null;
  /** A permanent failure, pinned to the exact file contents it happened with. */
  private permanent: { reason: string; raw: string } | null = null;
  private transientFailure: TransientFailure | null = null;
  private inFlight = false;

  constructor(private readonly log: Logger) {
    super();
  }

  get loaded(): Loaded {
    return this.current;
  }

  /** The ChatGPT login held now, or null. */
  held(): HeldChatgpt | null {
    return chatgptOf(this.current);
  }

  get unsaved(): { record: AuthRecord; basedOn: string } | null {
    return this.unsavedTokens;
  }

  get refreshing(): boolean {
    return this.inFlight;
  }

  /** Why a new login is needed, when it is. */
  get reauthReason(): string | null {
    const held = this.held();
    return this.permanent && held && held.raw === this.permanent.raw ? this.permanent.reason : null;
  }

  /** The last passing failure, while its backoff runs. */
  get transient(): TransientFailure | null {
    return this.transientFailure;
  }

  /** Why the last refresh of the held login failed, until one succeeds. */
  get lastError(): string | null {
    return this.reauthReason ?? this.transientFailure?.reason ?? null;
  }

  /** True when `loaded` is only the file our unsaved refresh replaces: keep serving ours. */
  holdsNewerThan(loaded: Loaded): boolean {
    return this.unsavedTokens !== null && loaded.kind === 'ok' && loaded.raw === this.unsavedTokens.basedOn;
  }

  /** Takes what is on disk as the current state (another writer changed it, or we just wrote it). */
  adopt(loaded: Loaded): void {
    const before = this.held()?.record.tokens.account_id;
    this.current = loaded;
    holdSecrets(this, loaded.kind === 'ok' ? secretsOf(loaded.record) : []);
    if (loaded.kind === 'unusable') this.log.warn(`auth.json cannot be used: ${loaded.reason}`);
    if (before !== this.held()?.record.tokens.account_id) this.forgetFailures();
    else if (this.permanent && this.held()?.raw !== this.permanent.raw) this.permanent = null;
    this.emit('changed');
  }

  /**
   * A new login or a logout: nothing pending for the old one survives. `reauth`: why the login
   * that comes in needs a new sign-in (it needed one where it was before).
   */
  replace(loaded: Loaded, reauth: string | null = null): void {
    this.forgetFailures();
    this.adopt(loaded);
    if (reauth && loaded.kind === 'ok') {
      this.permanent = { reason: reauth, raw: loaded.raw };
      this.emit('changed');
    }
  }

  /** Serves rotated tokens that could not be written from memory, as a replacement of `basedOn`. */
  holdUnsaved(record: AuthRecord, basedOn: string): void {
    this.unsavedTokens = { record, basedOn };
    this.adopt({ kind: 'ok', record, raw: serialize(record) });
  }

  /** The unsaved tokens were written, or given up for a file another writer put there. */
  dropUnsaved(): void {
    this.unsavedTokens = null;
  }

  refreshStarted(): void {
    this.inFlight = true;
    this.emit('changed');
  }

  refreshEnded(): void {
    this.inFlight = false;
    this.emit('changed');
  }

  // A failure or a recovery is only ever recorded inside a refresh: `refreshEnded` announces it.
  failedForGood(reason: string, raw: string): void {
    this.permanent = { reason, raw };
    this.transientFailure = null;
  }

  failedForNow(failure: TransientFailure): void {
    this.transientFailure = failure;
  }

  /** A refresh worked (or another writer's login was adopted): no backoff runs. */
  recovered(): void {
    this.transientFailure = null;
  }

  private forgetFailures(): void {
    this.unsavedTokens = null;
    this.permanent = null;
    this.transientFailure = null;
  }
}

/** What may be read of a login's state by anyone but its slot. */
export type LoginView = Pick<LoginState, 'loaded' | 'held' | 'unsaved' | 'refreshing' | 'reauthReason' | 'transient' | 'lastError' | 'holdsNewerThan'>;

/** The ChatGPT login in `loaded`, or null. */
export function chatgptOf(loaded: Loaded): HeldChatgpt | null {
  if (loaded.kind !== 'ok' || loaded.record.auth_mode !== 'chatgpt' || !loaded.record.tokens) return null;
  return { record: loaded.record as HeldChatgpt['record'], raw: loaded.raw };
}

/** What a follower mirrors of a login: all of it but the refresh token. */
export function mirroredSession(record: AuthRecord): SessionResult {
  if (record.auth_mode === 'apikey') return { authMode: 'apikey', apiKey: record.OPENAI_API_KEY! };
  const { access_token: accessToken, id_token: idToken, account_id: accountId } = record.tokens!;
  return { authMode: 'chatgpt', accessToken, idToken, accountId, expiresAt: isoTime(expiryMs(accessToken)), lastRefresh: record.last_refresh ?? null };
}
