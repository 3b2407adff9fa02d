// The login, in Codex CLI's own format and with Codex CLI's own write protocol: flock auth.lock,
// then auth.json.lock, then write. Where it lives follows `cli_auth_credentials_store`
// (./codex-config.ts): auth.json (a 0600 temp file `.auth-XXXXXX`, fsync, rename), Codex's OS
// keyring entry (../keyring/client.ts), or `auto`: the keyring, falling back to the file when it is empty
// or fails, for loads and saves alike, as Codex does.
import { access, constants, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MAX_FILE_BYTES, readBounded } from '../../shared/bounded-read.js';
import { isRecord } from '../../shared/framing.js';
import type { AuthMode, CredentialStore } from '../../shared/protocol.js';
import { fsyncDir, replaceFileAtomically } from './atomic-file.js';
import { asideName, pruneCopiesAside } from './kept-aside.js';
import type { StoreMode } from './codex-config.js';
import { KEYRING_SERVICE, KeyringClient, keyringAccount } from '../keyring/client.js';
import { decodeJwt } from './jwt.js';
import { lock, tryLock, withLock, type HeldLock } from '../../shared/os.js';
import { registerSecret } from '../runtime/secrets.js';

export interface TokenData {
  id_token: string;
  access_token: string;
  refresh_token: string;
  account_id: string | null;
}

/** One login as Codex stores it. Field order is the order Codex serializes in. */
export interface AuthRecord {
  auth_mode: AuthMode;
  OPENAI_API_KEY: string | null;
  tokens?: TokenData;
  last_refresh?: string;
}

export type Loaded =
  | { kind: 'missing' }
  | { kind: 'ok'; record: AuthRecord; raw: string }
  | { kind: 'unusable'; reason: string; raw: string };

export class StoreError extends Error {
  override name = 'StoreError';
}

/**
 * Codex's serialization: serde_json `to_string_pretty` for auth.json (two-space indent, no
 * trailing newline), `to_string` (compact) for the keyring entry.
 */
export function serialize(record: AuthRecord, compact = false): string {
  const ordered: Record<string, unknown> = { auth_mode: record.auth_mode, OPENAI_API_KEY: record.OPENAI_API_KEY };
  if (record.tokens) {
    const { id_token, access_token, refresh_token, account_id } = record.tokens;
    ordered['tokens'] = { id_token, access_token, refresh_token, account_id };
  }
  if (record.last_refresh !== undefined) ordered['last_refresh'] = record.last_refresh;
  return compact ? JSON.stringify(ordered) : JSON.stringify(ordered, null, 2);
}

/** RFC 3339 UTC with nine fractional digits, as Codex CLI 0.169 writes `last_refresh`. */
export function timestamp(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** Applies Codex's reading rules; returns the record or why Codex would not load it. */
export function parse(raw: string, source = 'auth.json'): AuthRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return `${source} is not valid JSON (${(error as Error).message})`;
  }
  if (!isRecord(value)) return `${source} does not hold a JSON object`;
  const apiKey = value['OPENAI_API_KEY'];
  if (apiKey !== undefined && apiKey !== null && typeof apiKey !== 'string') return 'OPENAI_API_KEY is not a string';
  const declared = value['auth_mode'];
  if (declared !== undefined && declared !== 'apikey' && declared !== 'chatgpt') {
    return `auth_mode "${String(declared)}" is not one codexd manages (apikey or chatgpt)`;
  }
  const mode: AuthMode = declared ?? (typeof apiKey === 'string' ? 'apikey' : 'chatgpt');
  const record: AuthRecord = { auth_mode: mode, OPENAI_API_KEY: typeof apiKey === 'string' ? apiKey : null };

  const tokens = value['tokens'];
  if (tokens !== undefined && tokens !== null) {
    if (!isRecord(tokens)) return 'tokens is not an object';
    const { id_token, access_token, refresh_token, account_id } = tokens;
    if (typeof id_token !== 'string' || decodeJwt(id_token) === null) return 'tokens.id_token is not a valid JWT';
    if (typeof access_token !== 'string' || typeof refresh_token !== 'string') {
      return 'tokens.access_token or tokens.refresh_token is missing';
    }
    if (account_id !== undefined && account_id !== null && typeof account_id !== 'string') return 'tokens.account_id is not a string';
    record.tokens = { id_token, access_token, refresh_token, account_id: account_id ?? null };
  }
  const lastRefresh = value['last_refresh'];
  if (typeof lastRefresh === 'string') record.last_refresh = lastRefresh;

  if (mode === 'apikey' && !record.OPENAI_API_KEY) return 'auth_mode is apikey but OPENAI_API_KEY is empty';
  if (mode === 'chatgpt' && !record.tokens) return 'auth_mode is chatgpt but there are no tokens';
  return record;
}

/** The secrets one login holds. */
export function secretsOf(record: AuthRecord): Array<string | null | undefined> {
  return [record.OPENAI_API_KEY, record.tokens?.id_token, record.tokens?.access_token, record.tokens?.refresh_token];
}

function registerSecrets(record: AuthRecord): void {
  for (const secret of secretsOf(record)) registerSecret(secret);
}

/** A login read from a keyring entry: parsed by Codex's rules, its secrets registered. */
export function loadedFrom(raw: string, source: string): Loaded {
  const parsed = parse(raw, source);
  if (typeof parsed === 'string') return { kind: 'unusable', reason: parsed, raw };
  registerSecrets(parsed);
  return { kind: 'ok', record: parsed, raw };
}

/** Reads a file in auth.json's format (auth.json itself, or an inactive account's file). */
export async function loadRecord(file: string): Promise<Loaded> {
  const found = await readBounded(file);
  if (found.kind === 'missing') return found;
  if (found.kind === 'unreadable') return { kind: 'unusable', reason: found.reason, raw: '' };
  const raw = found.bytes.toString('utf8');
  const parsed = parse(raw);
  if (typeof parsed === 'string') return { kind: 'unusable', reason: parsed, raw };
  registerSecrets(parsed);
  return { kind: 'ok', record: parsed, raw };
}

const TEMP_PREFIX = '.auth-';

/**
 * Codex's newest Windows builds keep the login in this age-encrypted file and only its passphrase
 * in the keyring (under another entry), because Credential Manager holds at most 2,560 bytes.
 */
const ENCRYPTED_LOGIN = join('secrets', 'cli_auth.age');

/** Where the login lives: what config.toml says (./codex-config.ts), and the keyring to use when it says so. */
export interface StorePlacement {
  config: { readonly mode: StoreMode; readonly problem: string | null };
  keyring: KeyringClient;
}

export class AuthStore {
  readonly file: string;
  private readonly outerLock: string;
  private readonly innerLock: string;
  /** Where the last load or save found the login (auto mode falls back to the file). */
  private using: 'file' | 'keyring' = 'file';
  /** Why the last keyring call failed, until one works. */
  private keyringProblem: string | null = null;

  constructor(
    readonly codexHome: string,
    private readonly lockTimeoutMs: number,
    private readonly placement: StorePlacement = { config: { mode: 'file', problem: null }, keyring: new KeyringClient(10_000) },
  ) {
    this.file = join(codexHome, 'auth.json');
    this.outerLock = join(codexHome, 'auth.lock');
    this.innerLock = join(codexHome, 'auth.json.lock');
  }

  /** For status: where the login lives now and what stands in the way. */
  credentialStore(): CredentialStore {
    const { mode, problem } = this.placement.config;
    if (mode === 'file') return { configured: mode, using: 'file', keyringEntry: null, problem };
    return {
      configured: mode,
      using: mode === 'keyring' ? 'keyring' : this.using,
      keyringEntry: { service: KEYRING_SERVICE, account: keyringAccount(this.codexHome) },
      problem: problem ?? this.keyringProblem,
    };
  }

  /** Used only in keyring and auto mode: file users never start its helper. */
  private keyring(): KeyringClient {
    return this.placement.keyring;
  }

  /** Creates CODEX_HOME 0700 when missing (an existing folder is left as the user made it). */
  ensureHome(): void {
    mkdirSync(this.codexHome, { recursive: true, mode: 0o700 });
  }

  /** Throws KeyringUnavailable when keyring mode cannot read the entry (auto mode falls back to the file). */
  async load(): Promise<Loaded> {
    const mode = this.placement.config.mode;
    if (mode !== 'file') {
      const fromKeyring = await this.loadKeyring(mode);
      if (fromKeyring) return fromKeyring;
    }
    this.using = 'file';
    return this.loadFile();
  }

  /** null: auto mode, and the keyring is empty or failed, so the file is read instead. */
  private async loadKeyring(mode: Exclude<StoreMode, 'file'>): Promise<Loaded | null> {
    let raw: string | null;
    try {
      raw = await this.keyring().get(keyringAccount(this.codexHome));
      this.keyringProblem = null;
    } catch (error) {
      this.keyringProblem = (error as Error).message;
      if (mode === 'auto') return null;
      throw error;
    }
    if (raw === null && mode === 'auto') return null;
    this.using = 'keyring';
    const encrypted = existsSync(join(this.codexHome, ENCRYPTED_LOGIN));
    if (raw === null) return encrypted ? { kind: 'unusable', reason: ENCRYPTED_NOTE, raw: '' } : { kind: 'missing' };
    const loaded = loadedFrom(raw, 'the keyring entry');
    return loaded.kind === 'unusable' && encrypted ? { ...loaded, reason: ENCRYPTED_NOTE } : loaded;
  }

  private loadFile(): Promise<Loaded> {
    return loadRecord(this.file);
  }

  /**
   * Holds `auth.lock` while `work` runs. Codex takes this lock for every write, so holding it
   * across a refresh keeps any other honest writer out until the result is on disk.
   */
  async withAuthLock<T>(work: (write: LockedWriter) => Promise<T>): Promise<T> {
    this.ensureHome();
    // On a read-only CODEX_HOME a refresh goes ahead and its result is held in memory (its write
    // fails like on a full disk).
    return withLock(this.outerLock, this.lockTimeoutMs, () => work(new LockedWriter(this)));
  }

  /** Why logins and logouts cannot be saved now (CODEX_HOME is read-only), or null. */
  async readOnlyReason(): Promise<string | null> {
    try {
      // node:fs's, promised: node:fs/promises loads at the first write, not before the socket listens.
      await promisify(access)(this.codexHome, constants.W_OK);
      return null;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EROFS' && code !== 'EACCES') return null; // the write itself will say what is wrong
      return `CODEX_HOME ${this.codexHome} is read-only (${code}); codexd serves it read-only (tokens, and refreshes held in memory), so logging in or out needs it writable again`;
    }
  }

  /**
   * Saves `record` (null deletes auth.json), taking both locks as Codex does. Returns where an
   * unusable auth.json was kept aside, if there was one.
   */
  async save(record: AuthRecord | null): Promise<string | null> {
    return this.withAuthLock((writer) => writer.save(record));
  }

  /**
   * Removes temp files left by a writer that died between creating and renaming them. Safe only
   * under `auth.lock`, which every live writer holds while its temp file exists. Never waits:
   * when another writer holds the lock its temp file may be live, so this returns null and the
   * files wait for the next start.
   */
  removeLeftoverTempFiles(): string[] | null {
    const outer = tryLock(this.outerLock);
    if (!outer) return null;
    try {
      const removed: string[] = [];
      for (const name of readdirSync(this.codexHome)) {
        if (/^\.auth-[A-Za-z0-9]{6}$/.test(name)) {
          rmSync(join(this.codexHome, name), { force: true });
          removed.push(name);
        }
      }
      return removed;
    } finally {
      outer.release();
    }
  }

  /** Used by LockedWriter, which guarantees `auth.lock` is held. */
  async writeLocked(record: AuthRecord | null): Promise<string | null> {
    // Never write what the next read would refuse: that file would only be moved aside again.
    const size = record ? Buffer.byteLength(serialize(record)) : 0;
    if (size > MAX_FILE_BYTES) throw new StoreError(`refusing to save a login of ${size} bytes: codexd reads back at most 1 MiB of auth.json, far more than a login takes`);
    const inner: HeldLock = await lock(this.innerLock, this.lockTimeoutMs);
    try {
      if (record) registerSecrets(record);
      const mode = this.placement.config.mode;
      let aside: string | null = null;
      if (mode !== 'file' && (await this.writeKeyring(mode, record))) {
        // As Codex does: once the keyring holds the login (or none), auth.json goes.
        await this.removeFile();
      } else {
        aside = await this.keepUnusableFileAside();
        if (record === null) await this.removeFile();
        else await this.replaceAtomically(serialize(record));
      }
      await fsyncDir(this.codexHome);
      return aside;
    } finally {
      inner.release();
    }
  }

  /** false: auto mode and the keyring failed, so the file takes the write. */
  private async writeKeyring(mode: Exclude<StoreMode, 'file'>, record: AuthRecord | null): Promise<boolean> {
    const account = keyringAccount(this.codexHome);
    try {
      if (record === null) await this.keyring().delete(account);
      else await this.keyring().set(account, serialize(record, true));
      this.keyringProblem = null;
      this.using = 'keyring';
      return true;
    } catch (error) {
      this.keyringProblem = (error as Error).message;
      if (mode === 'keyring') throw error;
      this.using = 'file';
      return false;
    }
  }

  private async removeFile(): Promise<void> {
    await unlink(this.file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  /**
   * A file we cannot use is never silently lost. Its exact bytes go to a new 0600
   * auth.json.corrupt-<time> (a copy would keep the old file's mode); one that cannot be read
   * (not a regular file, too large, no permission) is moved there whole. Only the newest few
   * copies stay (./kept-aside.ts).
   */
  private async keepUnusableFileAside(): Promise<string | null> {
    const found = await readBounded(this.file);
    if (found.kind === 'missing' || (found.kind === 'read' && typeof parse(found.bytes.toString('utf8')) !== 'string')) return null;
    const aside = asideName(this.file);
    if (found.kind === 'read') {
      try {
        await writeFile(aside, found.bytes, { flag: 'wx', mode: 0o600 });
      } catch (error) {
        // A copy cut short by a full disk is no copy; the next write tries again.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') await unlink(aside).catch(() => undefined);
        throw error;
      }
      await pruneCopiesAside(this.file);
      return aside;
    }
    await rename(this.file, aside);
    // O_NOFOLLOW: a symlink was moved, not its target, which is left as it is.
    const moved = await open(aside, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch(() => null);
    try {
      if (moved && (await moved.stat()).isFile()) await moved.chmod(0o600);
    } finally {
      await moved?.close();
    }
    await pruneCopiesAside(this.file);
    return aside;
  }

  private async replaceAtomically(contents: string): Promise<void> {
    try {
      await replaceFileAtomically(this.file, contents, TEMP_PREFIX);
    } catch (error) {
      throw new StoreError(`could not write ${this.file}: ${(error as Error).message}`);
    }
  }
}

const ENCRYPTED_NOTE =
  `Codex keeps this login encrypted in ${ENCRYPTED_LOGIN} with only its passphrase in the OS keyring (its newest Windows builds do, because Credential Manager holds at most 2,560 bytes); codexd reads and writes only the "${KEYRING_SERVICE}" entry, so log in again with codex-auth, or set cli_auth_credentials_store = "file" in config.toml`;

/** Write access handed out only inside `withAuthLock`. */
export class LockedWriter {
  constructor(private readonly store: AuthStore) {}
  save(record: AuthRecord | null): Promise<string | null> {
    return this.store.writeLocked(record);
  }
  load(): Promise<Loaded> {
    return this.store.load();
  }
}
