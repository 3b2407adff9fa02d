// The accounts besides the active one (see docs/accounts.md): a slot for each inactive account
// on its own file or keyring entry (./slot.ts, ./files.ts), and the names of every account.
// AccountService (./service.ts) holds the active account's slot and moves logins between it and
// these (./moves.ts).
import type { AccountSummary } from '../../shared/protocol.js';
import type { InactiveStore } from './files.js';
import { nameProblem } from '../../shared/account-name.js';
import { accountKey, assignNames, summarize } from './identity.js';
import { AccountNotFound } from '../errors.js';
import type { IssuerClient } from '../auth/issuer.js';
import type { Logger } from '../runtime/log.js';
import type { LoginStorage, RefresherOptions } from '../auth/refresher.js';
import { AccountSlot } from './slot.js';
import type { AuthRecord, Loaded } from '../auth/store.js';

export class AccountRegistry {
  /** Every account but the active one, by key. */
  private readonly slots = new Map<string, AccountSlot>();
  /** Account names by key, as in names.json. */
  private storedNames: Record<string, string> = {};

  constructor(
    /** The active account's slot: named and listed with the others. */
    private readonly active: AccountSlot,
    private readonly files: InactiveStore,
    private readonly issuer: IssuerClient,
    private readonly refresherOptions: RefresherOptions,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {}

  /**
   * Reads the names and the account files, once the active login is read. Returns the keys of
   * account files that hold the login auth.json holds too: what a move killed before its last
   * step leaves (./moves.ts finishes it). `readOnly`: why the files cannot be changed now, or null.
   */
  async load(readOnly: string | null): Promise<string[]> {
    if (!readOnly) {
      const removed = this.files.removeLeftoverTempFiles();
      if (removed.length > 0) this.log.warn({ removed }, 'removed temp files left by an interrupted write of an account file');
    }
    this.storedNames = await this.validNames();
    return this.scan();
  }

  /**
   * cli_auth_credentials_store changed: the inactive accounts are those of the new store now
   * (each slot stays on the store it was read from, so nothing moves between stores). Accounts
   * left in the old store (of `before`, every account's name by key before the change) keep
   * their names, and are listed again once config.toml points there.
   */
  async rescan(before: Map<string, string>): Promise<string[]> {
    for (const slot of this.slots.values()) await slot.settled();
    for (const key of this.inactiveKeys()) this.drop(key);
    const copiesOfActive = await this.scan();
    const left = [...before].filter(([key]) => !this.slots.has(key) && key !== this.activeKey()).map(([, name]) => name);
    if (left.length > 0) {
      const where = `not in ${this.files.location}, where config.toml keeps logins now`;
      this.log.warn({ accounts: left }, `accounts ${where}, stay where they were with their names, and are listed again when cli_auth_credentials_store points back there (nothing is moved between stores): ${left.join(', ')}`);
    }
    await this.saveNames();
    return copiesOfActive;
  }

  /** The names in names.json that follow the naming rules; any other is dropped with a warning, so that the default name applies. */
  private async validNames(): Promise<Record<string, string>> {
    const names: Record<string, string> = {};
    for (const [key, name] of Object.entries(await this.files.loadNames())) {
      const problem = nameProblem(name);
      if (problem === null) names[key] = name;
      else this.log.warn({ account: key }, `names.json names an account ${JSON.stringify(name.slice(0, 80))}, which cannot be used (${problem}); it goes by its default name instead`);
    }
    return names;
  }

  /** Reads the inactive accounts of the store config.toml names; returns the keys of copies of the active login. */
  private async scan(): Promise<string[]> {
    const active = this.activeKey();
    let stored: Array<{ key: string; loaded: Loaded }> = [];
    try {
      stored = await this.files.scan();
    } catch (error) {
      this.log.warn(`could not read the inactive accounts in ${this.files.location}: ${(error as Error).message}`);
    }
    const copiesOfActive: string[] = [];
    for (const { key, loaded } of stored) {
      if (loaded.kind !== 'ok' || accountKey(loaded.record) !== key) {
        const why = loaded.kind === 'ok' ? 'it holds another account than its name says' : loaded.kind === 'unusable' ? loaded.reason : 'it is gone';
        this.log.warn({ account: key }, `an account file in ${this.files.location} cannot be used (${why}); leaving it as it is`);
      } else if (key === active) {
        copiesOfActive.push(key);
      } else {
        this.add(key, loaded, null);
      }
    }
    return copiesOfActive;
  }

  stop(): void {
    for (const slot of this.slots.values()) slot.stop();
  }

  /** The key of the active account (the login auth.json holds), or null when there is none. */
  activeKey(): string | null {
    const record = this.active.login();
    return record === null ? null : accountKey(record);
  }

  /** The slot of the inactive account `key`. */
  inactive(key: string): AccountSlot | undefined {
    return this.slots.get(key);
  }

  inactiveKeys(): string[] {
    return [...this.slots.keys()];
  }

  get inactiveCount(): number {
    return this.slots.size;
  }

  /** Where the account `key` is kept while inactive, whether it is inactive now or is about to be. */
  storage(key: string): LoginStorage {
    return this.files.storage(key);
  }

  /** A slot for the account `key`, kept fresh on its own storage; `reauth` carries over why it needs a new sign-in. */
  add(key: string, loaded: Loaded, reauth: string | null): void {
    this.slots.get(key)?.dispose();
    const slot = AccountSlot.refreshed(this.files.storage(key), this.issuer, this.refresherOptions, this.log.child({ account: key }));
    slot.replace(loaded, reauth);
    slot.on('changed', this.onChange);
    this.slots.set(key, slot);
  }

  /** The account `key` became active or was logged out: its slot goes (its storage is the caller's). */
  drop(key: string): void {
    this.slots.get(key)?.dispose();
    this.slots.delete(key);
  }

  /** When another writer put an inactive account in auth.json, its slot here goes: returns its key, or null. */
  dropCopyOfActive(): string | null {
    const key = this.activeKey();
    if (key === null || !this.slots.has(key)) return null;
    this.drop(key);
    return key;
  }

  /** Every account, the active one first, then by name. */
  list(): AccountSummary[] {
    const names = this.namesByKey();
    const active = this.activeKey();
    return this.records()
      .map(([key, record]) => summarize(names.get(key)!, record, key === active, (key === active ? this.active : this.slots.get(key)!).accountState()))
      .sort((a, b) => Number(b.active) - Number(a.active) || a.name.localeCompare(b.name));
  }

  keyNamed(name: string): string {
    for (const [key, taken] of this.namesByKey()) if (taken === name) return key;
    throw new AccountNotFound(`No account is named "${name}"; \`codex-auth accounts\` lists them.`);
  }

  /** The key of the account that was given `name`, if one was. */
  ownerOfName(name: string): string | undefined {
    return Object.entries(this.storedNames).find(([, taken]) => taken === name)?.[0];
  }

  giveName(key: string, name: string): void {
    this.storedNames[key] = name;
  }

  /** Every account keeps the name it has now, whatever comes and goes next (one in another store too). */
  freezeNames(): void {
    this.storedNames = { ...this.storedNames, ...Object.fromEntries(this.namesByKey()) };
  }

  /** The account `key` was logged out: its name is free again. */
  forgetName(key: string): void {
    delete this.storedNames[key];
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

  /** Every account's login, the active one first, then by key. */
  private records(): Array<[string, AuthRecord]> {
    const active = this.active.login();
    const activeKey = active === null ? null : accountKey(active);
    const records: Array<[string, AuthRecord]> = active === null ? [] : [[activeKey!, active]];
    for (const key of [...this.slots.keys()].sort()) {
      const record = this.slots.get(key)!.login();
      if (record && key !== activeKey) records.push([key, record]);
    }
    return records;
  }

  /** Every account's name, by key. */
  namesByKey(): Map<string, string> {
    return assignNames(this.records(), this.storedNames);
  }
}
