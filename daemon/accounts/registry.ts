// The accounts besides the active one (see docs/accounts.md): each inactive
// account with its own session and refresher on its own file (inactive.ts, files.ts),
// the names of every account, and the start-up scan that reconciles the account files with
// auth.json. AccountService (./service.ts) owns the active account and moves logins between it
// and these.
import type { AccountSummary } from '../../shared/protocol.js';
import type { InactiveStore } from './files.js';
import { accountKey, assignNames, InactiveAccount, loginIn, stateOf, summarize } from './inactive.js';
import { AccountNotFound } from '../errors.js';
import type { IssuerClient } from '../auth/issuer.js';
import type { Logger } from '../runtime/log.js';
import type { LoginSlot, RefresherOptions } from '../auth/refresher.js';
import type { Session } from '../auth/session.js';
import type { AuthRecord, Loaded } from '../auth/store.js';

export class AccountRegistry {
  /** Every account but the active one, by key. */
  private readonly accounts = new Map<string, InactiveAccount>();
  /** Account names by key, as in names.json. */
  private storedNames: Record<string, string> = {};

  constructor(
    /** The active account's session: named and listed with the others. */
    private readonly active: Session,
    private readonly files: InactiveStore,
    private readonly issuer: IssuerClient,
    private readonly refresherOptions: RefresherOptions,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {}

  /**
   * Reads the names and the account files, once the active login is read. An account file that
   * holds the login auth.json holds too is what a switch killed before its last step leaves:
   * auth.json wins, the file goes. `readOnly`: why the files cannot be changed now, or null.
   */
  async load(readOnly: string | null): Promise<void> {
    if (!readOnly) {
      const removed = this.files.removeLeftoverTempFiles();
      if (removed.length > 0) this.log.warn({ removed }, 'removed temp files left by an interrupted write of an account file');
    }
    this.storedNames = await this.files.loadNames();
    const active = this.activeKey();
    let stored: Array<{ key: string; loaded: Loaded }> = [];
    try {
      stored = await this.files.scan();
    } catch (error) {
      this.log.warn(`could not read the inactive accounts in ${this.files.location}: ${(error as Error).message}`);
    }
    for (const { key, loaded } of stored) {
      if (loaded.kind !== 'ok' || accountKey(loaded.record) !== key) {
        const why = loaded.kind === 'ok' ? 'it holds another account than its name says' : loaded.kind === 'unusable' ? loaded.reason : 'it is gone';
        this.log.warn({ account: key }, `an account file in ${this.files.location} cannot be used (${why}); leaving it as it is`);
      } else if (key === active) {
        if (!readOnly) await this.removeCopyOfActive(key);
      } else {
        this.add(key, loaded, null);
      }
    }
  }

  stop(): void {
    for (const account of this.accounts.values()) account.refresher.stop();
  }

  /** The key of the active account (the login auth.json holds), or null when there is none. */
  activeKey(): string | null {
    const record = loginIn(this.active);
    return record === null ? null : accountKey(record);
  }

  inactive(key: string): InactiveAccount | undefined {
    return this.accounts.get(key);
  }

  inactiveKeys(): string[] {
    return [...this.accounts.keys()];
  }

  get inactiveCount(): number {
    return this.accounts.size;
  }

  /** The file of the account `key`, whether it is inactive now or is about to be. */
  slot(key: string): LoginSlot {
    return this.files.slot(key);
  }

  /** Keeps the account `key` fresh on its own file; `reauth` carries over why it needs a new sign-in. */
  add(key: string, loaded: Loaded, reauth: string | null): void {
    this.accounts.get(key)?.dispose();
    const account = new InactiveAccount(key, this.files.slot(key), loaded, this.issuer, this.refresherOptions, this.log.child({ account: key }), this.onChange);
    if (reauth && loaded.kind === 'ok') account.session.failedForGood(reauth, loaded.raw);
    this.accounts.set(key, account);
  }

  /** The account `key` became active or was logged out: forgotten here (its file is the caller's). */
  drop(key: string): void {
    this.accounts.get(key)?.dispose();
    this.accounts.delete(key);
  }

  /** Another writer put an inactive account in auth.json: auth.json wins, its copy here goes. False when there was none. */
  async dropCopyOfActive(): Promise<boolean> {
    const key = this.activeKey();
    if (key === null || !this.accounts.has(key)) return false;
    this.drop(key);
    await this.removeCopyOfActive(key);
    return true;
  }

  /** Every account, the active one first, then by name. */
  list(): AccountSummary[] {
    const names = this.names();
    const active = this.activeKey();
    return this.records()
      .map(([key, record]) => summarize(names.get(key)!, record, key === active, stateOf(key === active ? this.active : this.accounts.get(key)!.session)))
      .sort((a, b) => Number(b.active) - Number(a.active) || a.name.localeCompare(b.name));
  }

  keyNamed(name: string): string {
    for (const [key, taken] of this.names()) if (taken === name) return key;
    throw new AccountNotFound(`No account is named "${name}"; \`codex-auth accounts\` lists them.`);
  }

  /** The key of the account that was given `name`, if one was. */
  ownerOfName(name: string): string | undefined {
    return Object.entries(this.storedNames).find(([, taken]) => taken === name)?.[0];
  }

  giveName(key: string, name: string): void {
    this.storedNames[key] = name;
  }

  /** Every account keeps the name it has now, whatever comes and goes next. */
  freezeNames(): void {
    this.storedNames = Object.fromEntries(this.names());
  }

  /** Writes the names of the accounts there are now (a name given at login, or the default first shown). */
  async saveNames(): Promise<void> {
    this.freezeNames();
    try {
      await this.files.saveNames(this.storedNames);
    } catch (error) {
      this.log.warn(`could not save the account names: ${(error as Error).message}`);
    }
  }

  /** auth.json holds this account too: auth.json wins, the file goes. */
  private async removeCopyOfActive(key: string): Promise<void> {
    try {
      await this.files.slot(key).withAuthLock((file) => file.save(null));
      this.log.info({ account: key }, 'removed the account file of the active account: auth.json holds its login');
    } catch (error) {
      this.log.warn(`${(error as Error).message}; tried again at the next start`);
    }
  }

  /** Every account's login, the active one first, then by key. */
  private records(): Array<[string, AuthRecord]> {
    const active = loginIn(this.active);
    const activeKey = active === null ? null : accountKey(active);
    const records: Array<[string, AuthRecord]> = active === null ? [] : [[activeKey!, active]];
    for (const key of [...this.accounts.keys()].sort()) {
      const record = this.accounts.get(key)!.record();
      if (record && key !== activeKey) records.push([key, record]);
    }
    return records;
  }

  private names(): Map<string, string> {
    return assignNames(this.records(), this.storedNames);
  }
}
