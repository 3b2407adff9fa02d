// Where inactive accounts are kept: `$CODEX_HOME/codexd/accounts/`, a 0700 folder with one 0600
// file per account in auth.json's format, each written as auth.json is (../auth/atomic-file.ts). Only
// codexd writes there, and one codexd runs per CODEX_HOME; each account's writes still take an
// flock of its own, `$CODEX_HOME/codexd/locks/<key>.lock` (outside the accounts folder, which
// keyring mode leaves empty), so that no other process (an older codexd on another runtime
// folder) can spend the same refresh token, behind an in-process lock. The names of all accounts, the active one too,
// are in `$CODEX_HOME/codexd/names.json`. Behind `InactiveStore`, so that another backend (the OS
// keyring) can take the place of the files.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readBounded } from '../../shared/bounded-read.js';
import { isRecord } from '../../shared/framing.js';
import { fsyncDir, replaceFileAtomically } from '../auth/atomic-file.js';
import { withLock } from '../../shared/os.js';
import { Mutex } from '../runtime/mutex.js';
import type { LoginStorage, StorageWriter } from '../auth/refresher.js';
import { loadRecord, serialize, StoreError, type AuthRecord, type Loaded } from '../auth/store.js';

/** What the accounts need from wherever inactive logins are kept. */
export interface InactiveStore {
  /** Where they are, for messages. */
  readonly location: string;
  /** Every stored login, by the key it was saved under. */
  scan(): Promise<Array<{ key: string; loaded: Loaded }>>;
  /** One account's login: its lock, its load and save (save(null) removes it). */
  storage(key: string): LoginStorage;
  /** The name of every account, by key. */
  loadNames(): Promise<Record<string, string>>;
  saveNames(names: Record<string, string>): Promise<void>;
  /** Removes temp files left by a write that was killed; only at start, before any write. */
  removeLeftoverTempFiles(): string[];
}

const TEMP_PREFIX = '.account-';
/** Keys are made by inactive.ts (a kind and hex digits); anything else in the folder is not ours. */
const KEY = /^(chatgpt|apikey)-[0-9a-f]{16}$/;

export class AccountFiles implements InactiveStore {
  readonly location: string;
  private readonly namesFile: string;
  private readonly locks = new Map<string, Mutex>();
  private readonly lockFolder: string;

  constructor(
    codexHome: string,
    private readonly lockTimeoutMs = 30_000,
  ) {
    this.location = join(codexHome, 'codexd', 'accounts');
    this.namesFile = join(codexHome, 'codexd', 'names.json');
    this.lockFolder = join(codexHome, 'codexd', 'locks');
  }

  async scan(): Promise<Array<{ key: string; loaded: Loaded }>> {
    const found: Array<{ key: string; loaded: Loaded }> = [];
    for (const name of this.entries()) {
      const key = name.slice(0, -'.json'.length);
      if (name.endsWith('.json') && KEY.test(key)) found.push({ key, loaded: await loadRecord(join(this.location, name)) });
    }
    return found;
  }

  storage(key: string): LoginStorage {
    if (!KEY.test(key)) throw new Error(`not an account key: ${key}`);
    const file = join(this.location, `${key}.json`);
    let lock = this.locks.get(key);
    if (!lock) this.locks.set(key, (lock = new Mutex()));
    const writer: StorageWriter = {
      load: () => loadRecord(file),
      save: async (record: AuthRecord | null) => {
        try {
          if (record === null) await unlink(file).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== 'ENOENT') throw error;
          });
          else {
            this.ensureFolder();
            await replaceFileAtomically(file, serialize(record), TEMP_PREFIX);
          }
          await fsyncDir(this.location).catch(() => undefined);
        } catch (error) {
          throw new StoreError(`could not write ${file}: ${(error as Error).message}`);
        }
        return null;
      },
    };
    const mutex = lock;
    const lockFile = join(this.lockFolder, `${key}.lock`);
    const withFileLock = async <T>(work: () => Promise<T>): Promise<T> => {
      await mkdir(this.lockFolder, { recursive: true, mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EROFS') throw error; // read-only: withLock goes ahead without the lock
      });
      return withLock(lockFile, this.lockTimeoutMs, work);
    };
    return { file, load: writer.load, withAuthLock: (work) => mutex.run(() => withFileLock(() => work(writer))) };
  }

  async loadNames(): Promise<Record<string, string>> {
    let value: unknown;
    try {
      const found = await readBounded(this.namesFile);
      value = found.kind === 'read' ? JSON.parse(found.bytes.toString('utf8')) : null;
    } catch {
      return {}; // missing, damaged or not a regular file: every account falls back to its default name
    }
    if (!isRecord(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => KEY.test(entry[0]) && typeof entry[1] === 'string'));
  }

  async saveNames(names: Record<string, string>): Promise<void> {
    this.ensureFolder();
    try {
      await replaceFileAtomically(this.namesFile, JSON.stringify(names, null, 2), TEMP_PREFIX);
    } catch (error) {
      throw new StoreError(`could not write ${this.namesFile}: ${(error as Error).message}`);
    }
  }

  removeLeftoverTempFiles(): string[] {
    const removed: string[] = [];
    for (const dir of [this.location, join(this.location, '..')]) {
      for (const name of this.entries(dir)) {
        if (!name.startsWith(TEMP_PREFIX)) continue;
        rmSync(join(dir, name), { force: true });
        removed.push(join(dir, name));
      }
    }
    return removed;
  }

  /** Created 0700 in the mkdir call itself, never chmod-ed afterwards. */
  private ensureFolder(): void {
    mkdirSync(this.location, { recursive: true, mode: 0o700 });
  }

  private entries(dir = this.location): string[] {
    try {
      return readdirSync(dir).sort();
    } catch {
      return [];
    }
  }
}
