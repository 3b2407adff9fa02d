// The one place that redeems refresh tokens. Refresh tokens rotate, so two processes spending
// the same one log the user out (`refresh_token_reused`). This module makes codexd that one
// process, and keeps Codex CLI from needing to be: it refreshes earlier than Codex would
// (exp − margin, Codex waits for exp − 5 min), under Codex's own auth.lock, and adopts
// whatever another writer put on disk instead of spending a token that is already spent.
import { FOLLOWER_REFRESH_TOKEN } from '../../shared/paths.js';
import { expiryMs, identityOf, saneTimeMs } from './jwt.js';
import { IssuerError, REFRESH_MESSAGES, type IssuerClient } from './issuer.js';
import type { Logger } from '../runtime/log.js';
import type { HeldChatgpt, LoginState } from './login-state.js';
import { timestamp, type AuthRecord, type Loaded } from './store.js';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Codex's fallback when the access token's exp cannot be read. */
export const STALE_AFTER_DAYS = 8;
const STALE_AFTER_MS = STALE_AFTER_DAYS * 24 * 3600 * 1000;
/** setTimeout's ceiling; the periodic tick covers anything further out. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * A token that arrives already inside the margin (tokens shorter-lived than the margin, or an
 * issuer clock behind ours) is refreshed again at half its remaining life, but never sooner
 * than this after it arrived: short-lived tokens stay valid, and skew cannot make a loop.
 */
const SHORT_LIVED_MIN_GAP_MS = 30_000;
/**
 * A forced refresh asked for this soon after the last grant gets that grant's token instead of
 * spending another (docs/protocol.md, "Forced refreshes"): a client that loops on a 401 costs one grant.
 */
export const FORCED_REFRESH_REUSE_MS = 10_000;
/** From the restricted socket, a forced refresh spends a grant at most this often. */
export const RESTRICTED_FORCED_REFRESH_GAP_MS = 60_000;
/** After refresh_token_reused, how long to wait for the other writer to land its tokens. */
const REUSE_GRACE_STEPS = [200, 400, 800, 1600];

/**
 * Where the login a refresher keeps fresh is stored: auth.json (AuthStore, under Codex's locks)
 * for the active account, its own file or keyring entry for an inactive one (../accounts/files.ts,
 * ../keyring/accounts.ts).
 */
export interface LoginStorage {
  /** The file, for messages. */
  readonly file: string;
  load(): Promise<Loaded>;
  /** Runs `work` holding the lock every writer of this login takes. */
  withAuthLock<T>(work: (writer: StorageWriter) => Promise<T>): Promise<T>;
}

export interface StorageWriter {
  load(): Promise<Loaded>;
  save(record: AuthRecord | null): Promise<string | null>;
}

export interface RefresherOptions {
  marginMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  tickMs: number;
}

/** The refresh worked but its result is not on disk yet; retried with the usual backoff. */
class UnsavedError extends Error {
  override name = 'UnsavedError';
}

export class Refresher {
  private inFlight: Promise<string | null> | null = null;
  /**
   * An access token that arrived already inside the margin, and when to refresh it instead of
   * exp − margin (null: never by schedule, it had expired on arrival by our clock).
   */
  private arrivedDue: { accessToken: string; dueAt: number | null } | null = null;
  /** When the issuer last granted this login new tokens (Date.now()), or null. */
  private lastGrantAt: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly tick: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly store: LoginStorage,
    private readonly issuer: IssuerClient,
    private readonly state: LoginState,
    private readonly options: RefresherOptions,
    private readonly log: Logger,
  ) {
    // Every change of the held login (on-disk edits, logins, our own refreshes) re-arms the timer.
    state.on('changed', () => this.rearm());
    // Timers stall while a laptop sleeps; the tick compares wall-clock time instead.
    this.tick = setInterval(() => this.onSchedule('tick'), options.tickMs);
    this.tick.unref();
  }

  /** auth.json, or an inactive account's file. */
  private get fileName(): string {
    return basename(this.store.file);
  }

  /** When the next refresh (or retry) will be tried, in ms since the epoch; null when none will be. */
  nextAttemptAt(): number | null {
    const due = this.state.reauthReason ? null : this.dueAt();
    return due === null ? null : Math.max(due, this.state.transient?.retryAt ?? 0);
  }

  /** When the held login should be refreshed, in ms since the epoch; null when never by schedule. */
  dueAt(): number | null {
    const held = this.state.held();
    if (!held) return null;
    if (this.state.unsaved) return Date.now(); // the pending write is due (after its backoff)
    const access = held.record.tokens.access_token;
    if (this.arrivedDue?.accessToken === access) return this.arrivedDue.dueAt;
    const exp = expiryMs(access);
    if (exp !== null) return exp - this.options.marginMs;
    const last = saneTimeMs(Date.parse(held.record.last_refresh ?? ''));
    return last === null ? Date.now() : last + STALE_AFTER_MS;
  }

  private rearm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    const due = this.dueAt();
    if (due === null) return;
    const retryAt = this.state.transient?.retryAt ?? 0;
    this.timer = setTimeout(() => this.onSchedule('timer'), Math.min(Math.ceil(Math.max(due, retryAt) - Date.now()), MAX_TIMER_MS));
    this.timer.unref();
  }

  /** No refresh by schedule any more; one in flight still ends (see settled()). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.tick);
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * Before a token is handed out: refresh when it is due, or when forced and the last grant is
   * older than `forcedGapMs`, unless a permanent failure stands or a backoff is running. Never
   * throws: resolves with the reason when a refresh was tried and failed, or when a forced one is
   * held back by the backoff; the caller decides whether the token it still has is good enough.
   * When nothing is to be tried, the outcome comes at once, not as a promise (account/token's
   * usual path: see the latency paragraph of docs/performance.md).
   */
  ensureFresh(force: boolean, forcedGapMs = FORCED_REFRESH_REUSE_MS): string | null | Promise<string | null> {
    if (this.state.reauthReason) return null;
    const due = this.dueAt();
    const now = Date.now();
    const transient = this.state.transient;
    // Tokens held unsaved came from a grant: for a forced refresh they are the fresh ones.
    if (transient && now < transient.retryAt) return force && !this.state.unsaved ? transient.reason : null;
    const recentGrant = this.lastGrantAt !== null && now - this.lastGrantAt < forcedGapMs;
    if (force && !recentGrant) return this.refresh();
    if (due === null || now < due) return null;
    return this.refresh();
  }

  /** Resolves once no refresh is in flight. */
  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => null);
  }

  /**
   * Single flight: every caller during one refresh shares its outcome, the reason it failed or
   * null (refreshed, or another writer's login adopted).
   */
  refresh(): Promise<string | null> {
    if (!this.inFlight) {
      this.inFlight = this.refreshOnce().finally(() => {
        this.inFlight = null;
        this.state.refreshEnded();
      });
      this.state.refreshStarted();
    }
    return this.inFlight;
  }

  private onSchedule(source: 'timer' | 'tick'): void {
    if (this.state.reauthReason || this.inFlight) return;
    const due = this.dueAt();
    if (due === null) return;
    const transient = this.state.transient;
    if (Date.now() < Math.max(due, transient?.retryAt ?? 0)) {
      // Node's timers run on a millisecond-truncated monotonic clock and may fire a moment before
      // Date.now() reaches the target: arm again rather than wait for the next tick.
      if (source === 'timer') this.rearm();
      return;
    }
    this.log.info({ source }, transient ? 'retrying the refresh' : 'access token is due; refreshing');
    this.refresh().catch(() => undefined);
  }

  private async refreshOnce(): Promise<string | null> {
    const held = this.state.held();
    if (!held) return null;
    try {
      const outcome = await this.store.withAuthLock(async (writer): Promise<'adopted' | 'dropped' | 'refreshed' | 'saved'> => {
        const disk = await writer.load();
        if (this.state.unsaved) return this.saveUnsaved(writer, disk);
        // Another writer got there first (or logged out, or switched account): adopt, no request.
        if (disk.kind !== 'ok' || disk.raw !== held.raw) {
          this.log.info(`${this.fileName} changed on disk before refreshing; adopting it instead`);
          this.state.adopt(disk);
          return 'adopted';
        }
        // A follower's mirror has only a marker: the issuer would refuse it, so it is never sent.
        if (held.record.tokens.refresh_token === FOLLOWER_REFRESH_TOKEN) throw new IssuerError(REFRESH_MESSAGES.followerMirror, 'permanent');
        const tokens = await this.issuer.refresh(held.record.tokens.refresh_token);
        this.lastGrantAt = Date.now();
        const heldAccount = held.record.tokens.account_id;
        if (heldAccount && tokens.id_token && identityOf(tokens.id_token).accountId !== heldAccount) {
          // A refresh must never switch accounts; keep the file as it is.
          throw new IssuerError(REFRESH_MESSAGES.accountMismatch, 'permanent', 'account_mismatch');
        }
        const next: AuthRecord = {
          ...held.record,
          tokens: { ...held.record.tokens, ...tokens },
          last_refresh: timestamp(),
        };
        // A writer that ignores auth.lock (an older Codex, a person) may have logged out or logged
        // in as someone else while the request was out: their login wins over this refresh.
        const current = await writer.load();
        if (current.kind !== 'unusable' && !(current.kind === 'ok' && current.raw === held.raw) && !sameAccount(current, held)) {
          this.log.warn(`${this.fileName} changed to another login while refreshing; keeping it and dropping this refresh`);
          this.state.adopt(current);
          return 'dropped';
        }
        try {
          await writer.save(next);
        } catch (error) {
          this.state.holdUnsaved(next, held.raw);
          throw new UnsavedError(`the refreshed tokens could not be saved (${(error as Error).message}); serving them from memory until the write succeeds`);
        }
        this.noteArrival(next.tokens!.access_token);
        this.state.adopt(await writer.load());
        return 'refreshed';
      });
      this.state.recovered();
      if (outcome === 'refreshed') this.log.info('refreshed the access token');
      if (outcome === 'saved') this.log.info('saved the refreshed tokens that could not be written before');
      return null;
    } catch (error) {
      return this.onFailure(held, error);
    }
  }

  /** Retries the write of rotated tokens, unless another writer has replaced the file since. */
  private async saveUnsaved(writer: StorageWriter, disk: Loaded): Promise<'saved' | 'adopted'> {
    const { record, basedOn } = this.state.unsaved!;
    if (disk.kind !== 'ok' || disk.raw !== basedOn) {
      this.state.dropUnsaved();
      this.log.warn(`${this.fileName} was replaced while refreshed tokens waited to be saved; keeping the new file`);
      this.state.adopt(disk);
      return 'adopted';
    }
    try {
      await writer.save(record);
    } catch (error) {
      throw new UnsavedError(`the refreshed tokens still cannot be saved (${(error as Error).message})`);
    }
    this.state.dropUnsaved();
    this.state.adopt(await writer.load());
    return 'saved';
  }

  /** Schedules a token that came back already inside the margin (see SHORT_LIVED_MIN_GAP_MS). */
  private noteArrival(accessToken: string): void {
    const exp = expiryMs(accessToken);
    const now = Date.now();
    if (exp === null || exp - this.options.marginMs > now) {
      this.arrivedDue = null;
      return;
    }
    const remaining = exp - now;
    const dueAt = remaining > 0 ? now + Math.max(remaining / 2, SHORT_LIVED_MIN_GAP_MS) : null;
    this.arrivedDue = { accessToken, dueAt };
    if (dueAt === null) {
      this.log.warn('the issuer returned an access token that has already expired by our clock; not refreshing it again by schedule (clock skew?)');
    } else {
      this.log.warn({ expiresInS: Math.round(remaining / 1000), nextRefreshInS: Math.round((dueAt - now) / 1000) }, 'the issuer returned an access token that expires within the refresh margin; refreshing it again at half its remaining life');
    }
  }

  /** Records the failure; returns its reason, or null when the daemon holds good tokens after all. */
  private async onFailure(held: HeldChatgpt, error: unknown): Promise<string | null> {
    if (error instanceof IssuerError && error.code === 'refresh_token_reused' && (await this.adoptRotationByOthers(held))) return null;
    const reason = error instanceof Error ? error.message : String(error);
    if (this.state.held()?.raw !== held.raw && !(error instanceof UnsavedError)) {
      // auth.json changed while the request was out (a new login, an outside edit): the failure
      // belongs to tokens the daemon no longer holds.
      this.log.info(`refresh failed, but ${this.fileName} has changed since; not counting it: ${reason}`);
      return null;
    }
    if (error instanceof IssuerError && error.kind === 'permanent') {
      this.state.failedForGood(error.message, held.raw);
      // Not logged as `code`: that field name is redacted as a secret (authorization codes).
      this.log.warn({ oauthError: error.code, status: error.status }, `refresh failed for good: ${error.message}`);
      return reason;
    }
    const failures = (this.state.transient?.failures ?? 0) + 1;
    const ceiling = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** (failures - 1));
    const delay = Math.random() * ceiling; // full jitter
    this.state.failedForNow({ reason, failures, retryAt: Date.now() + delay });
    this.log.warn({ failures, retryInMs: Math.round(delay) }, `refresh failed, will retry: ${reason}`);
    // The rotated tokens are held and served: for the caller, this refresh worked.
    return error instanceof UnsavedError ? null : reason;
  }

  /**
   * `refresh_token_reused` usually means another process (Codex CLI) rotated the token a moment
   * ago and is about to write it; it waits for auth.lock, which we held. Give it a moment.
   */
  private async adoptRotationByOthers(held: HeldChatgpt): Promise<boolean> {
    for (const waitMs of REUSE_GRACE_STEPS) {
      await sleep(waitMs);
      const disk = await this.store.load().catch(() => null); // an unreachable keyring: the failure stands
      if (disk?.kind === 'ok' && disk.raw !== held.raw) {
        this.log.info('refresh token was rotated by another process; adopting what it wrote');
        this.state.adopt(disk);
        return true;
      }
    }
    return false;
  }
}

/** Whether `loaded` is a ChatGPT login of the same account as `held`. */
function sameAccount(loaded: Loaded, held: HeldChatgpt): boolean {
  return (
    loaded.kind === 'ok' &&
    loaded.record.auth_mode === 'chatgpt' &&
    loaded.record.tokens !== undefined &&
    loaded.record.tokens.account_id === held.record.tokens.account_id
  );
}
