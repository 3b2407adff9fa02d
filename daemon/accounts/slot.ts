// One account slot: a login's state, the source that keeps it current, and where it is stored.
// The active account is a slot on auth.json (or Codex's keyring entry) and each inactive account
// a slot on its own file (or keyring entry), each kept fresh by a refresher (the issuer); a
// follower's mirror is a slot on its auth.json whose source is the upstream codexd
// (../follower/follower.ts). The slot is the one writer of its login's state: its refresher
// changes it while refreshing, and the account moves (./moves.ts) and a follower's syncs change
// it only through `adopt` and `replace` below. Everyone else reads it.
import { EventEmitter } from 'node:events';
import type { AccountState } from '../../shared/protocol.js';
import type { IssuerClient } from '../auth/issuer.js';
import { LoginState, type HeldChatgpt, type LoginView, type TransientFailure } from '../auth/login-state.js';
import type { Logger } from '../runtime/log.js';
import { Refresher, type LoginStorage, type RefresherOptions } from '../auth/refresher.js';
import { releaseSecrets } from '../runtime/secrets.js';
import type { AuthRecord, Loaded } from '../auth/store.js';

/** What keeps a slot's login current: a Refresher, or a follower's upstream. */
export interface LoginSource {
  /** When the next refresh (or retry) will be tried, in ms since the epoch; null when none will be. */
  nextAttemptAt(): number | null;
  /** Never throws: why a refresh it tried (or held back) failed, else null; at once when it tried none. */
  ensureFresh(force: boolean, forcedGapMs?: number): string | null | Promise<string | null>;
  /** Resolves once no refresh is in flight. */
  settled(): Promise<void>;
  /** No more refreshes by schedule. */
  stop(): void;
}

export class AccountSlot extends EventEmitter<{ changed: [] }> implements LoginView {
  private readonly state: LoginState;
  private readonly source: LoginSource;

  constructor(
    readonly storage: LoginStorage,
    source: (state: LoginState) => LoginSource,
    log: Logger,
  ) {
    super();
    this.state = new LoginState(log);
    this.source = source(this.state);
    this.state.on('changed', () => this.emit('changed'));
  }

  /** A slot kept fresh by the issuer: the active account, or an inactive one. */
  static refreshed(storage: LoginStorage, issuer: IssuerClient, options: RefresherOptions, log: Logger): AccountSlot {
    return new AccountSlot(storage, (state) => new Refresher(storage, issuer, state, options, log), log);
  }

  get loaded(): Loaded {
    return this.state.loaded;
  }

  held(): HeldChatgpt | null {
    return this.state.held();
  }

  get unsaved(): { record: AuthRecord; basedOn: string } | null {
    return this.state.unsaved;
  }

  get refreshing(): boolean {
    return this.state.refreshing;
  }

  get reauthReason(): string | null {
    return this.state.reauthReason;
  }

  get transient(): TransientFailure | null {
    return this.state.transient;
  }

  get lastError(): string | null {
    return this.state.lastError;
  }

  holdsNewerThan(loaded: Loaded): boolean {
    return this.state.holdsNewerThan(loaded);
  }

  /** The login held: as stored, or, when its refreshed tokens could not be written yet, as held. */
  login(): AuthRecord | null {
    const { loaded } = this.state;
    return loaded.kind === 'ok' ? loaded.record : null;
  }

  /** The login as the storage holds it now, or as this slot holds it when that is newer (unsaved tokens). */
  newestOf(disk: Loaded): AuthRecord | null {
    if (this.state.holdsNewerThan(disk)) return this.state.held()!.record;
    return disk.kind === 'ok' ? disk.record : null;
  }

  accountState(): Exclude<AccountState, 'loggedOut'> {
    return this.state.reauthReason ? 'reauthRequired' : this.state.refreshing ? 'refreshing' : 'ok';
  }

  /** When the next refresh (or retry) will be tried, in ms since the epoch; null when none will be. */
  nextAttemptAt(): number | null {
    return this.source.nextAttemptAt();
  }

  /** Never throws: why a refresh it tried (or held back) failed (see Refresher.ensureFresh). */
  ensureFresh(force: boolean, forcedGapMs?: number): string | null | Promise<string | null> {
    return this.source.ensureFresh(force, forcedGapMs);
  }

  /** Resolves once no refresh is in flight. */
  settled(): Promise<void> {
    return this.source.settled();
  }

  /** Another writer changed the storage (or the slot was just filled from it): take what it holds. */
  adopt(loaded: Loaded): void {
    this.state.adopt(loaded);
  }

  /**
   * A login moved in (or out: `missing`): nothing pending for the one before survives. `reauth`
   * carries over why the login that moved in needs a new sign-in.
   */
  replace(loaded: Loaded, reauth: string | null = null): void {
    this.state.replace(loaded, reauth);
  }

  /** No more refreshes by schedule; one in flight still ends (see settled()). */
  stop(): void {
    this.source.stop();
  }

  /** Its login moved out for good: no refreshes, no listeners, no secrets held. */
  dispose(): void {
    this.source.stop();
    this.removeAllListeners();
    this.state.removeAllListeners();
    releaseSecrets(this.state);
  }
}
