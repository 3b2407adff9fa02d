// Inactive accounts (docs/accounts.md) where config.toml keeps the login: in keyring
// mode each in an OS keyring entry of codexd's own (service `codexd`, account
// `cli|<home key>|<account key>`, the compact record) instead of a file; in auto mode in the
// keyring when it answers and in the files when it does not, as the active login; in file mode in
// the files (../accounts/files.ts). An account's storage keeps the mode it was made in; a switch
// in config.toml makes the registry read the accounts of the new store (AccountRegistry.rescan).
// Account names are not secret and stay in names.json; each account keeps the lock of its file
// storage, whichever place holds it.
import { codexHomeKey } from '../../shared/paths.js';
import type { AccountFiles, InactiveStore } from '../accounts/files.js';
import type { StoreMode } from '../auth/codex-config.js';
import type { KeyringClient } from './client.js';
import type { LoginStorage, StorageWriter } from '../auth/refresher.js';
import { loadedFrom, serialize, type AuthRecord, type Loaded } from '../auth/store.js';

export const ACCOUNTS_SERVICE = 'codexd';

export class AccountsByMode implements InactiveStore {
  private readonly prefix: string;

  constructor(
    private readonly files: AccountFiles,
    private readonly keyring: KeyringClient,
    private readonly config: { readonly mode: StoreMode },
    codexHome: string,
  ) {
    this.prefix = `cli|${codexHomeKey(codexHome)}|`;
  }

  get location(): string {
    return this.config.mode === 'file' ? this.files.location : `the OS keyring (service "${ACCOUNTS_SERVICE}", accounts ${this.prefix}<account>)`;
  }

  async scan(): Promise<Array<{ key: string; loaded: Loaded }>> {
    const mode = this.config.mode;
    if (mode === 'file') return this.files.scan();
    let found: Array<{ account: string; password: string }>;
    try {
      found = await this.keyring.find(ACCOUNTS_SERVICE, this.prefix);
    } catch (error) {
      if (mode === 'keyring') throw error;
      return this.files.scan();
    }
    const fromKeyring = found.map(({ account, password }) => ({ key: account.slice(this.prefix.length), loaded: loadedFrom(password, 'a keyring entry of codexd') }));
    if (mode === 'keyring') return fromKeyring;
    // auto: what fell back to the files while the keyring failed counts too; the keyring wins.
    const keys = new Set(fromKeyring.map(({ key }) => key));
    return [...fromKeyring, ...(await this.files.scan()).filter(({ key }) => !keys.has(key))];
  }

  /** In the mode config.toml says now, for good: an account's storage never moves it to another store. */
  storage(key: string): LoginStorage {
    const fileStorage = this.files.storage(key);
    const account = this.prefix + key;
    const mode = this.config.mode;
    if (mode === 'file') return fileStorage;
    const load = (file: () => Promise<Loaded>) => async (): Promise<Loaded> => {
      let raw: string | null;
      try {
        raw = await this.keyring.get(account, ACCOUNTS_SERVICE);
      } catch (error) {
        if (mode === 'keyring') throw error;
        return file();
      }
      if (raw !== null) return loadedFrom(raw, 'a keyring entry of codexd');
      return mode === 'auto' ? file() : { kind: 'missing' };
    };
    const writer = (file: StorageWriter): StorageWriter => ({
      load: load(() => file.load()),
      save: async (record: AuthRecord | null) => {
        try {
          if (record === null) await this.keyring.delete(account, ACCOUNTS_SERVICE);
          else await this.keyring.set(account, serialize(record, true), ACCOUNTS_SERVICE);
        } catch (error) {
          if (mode === 'keyring') throw error;
          return file.save(record);
        }
        return file.save(null); // in one place only, as the active login
      },
    });
    return {
      file: `the keyring entry ${account}`,
      load: load(() => fileStorage.load()),
      withAuthLock: (work) => fileStorage.withAuthLock((file) => work(writer(file))),
    };
  }

  loadNames(): Promise<Record<string, string>> {
    return this.files.loadNames();
  }

  saveNames(names: Record<string, string>): Promise<void> {
    return this.files.saveNames(names);
  }

  removeLeftoverTempFiles(): string[] {
    return this.files.removeLeftoverTempFiles();
  }
}
