// Whether auth.json holds a login of this machine's own, which a follower must leave alone (a
// `codex login` made here, a key set here), or only a mirror a follower wrote. A ChatGPT mirror
// says so itself: its refresh token is the follower's marker. An API-key mirror looks like any
// API-key login, so the follower notes what it wrote: a SHA-256 of the login, in
// `$CODEX_HOME/codexd/follower-mirror` (0600, two lines at most: the last two writes, so that a
// follower killed between the note and auth.json still knows the file it finds at its next start).
import { constants, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FOLLOWER_REFRESH_TOKEN } from '../../shared/paths.js';
import { sha256Hex } from '../../shared/sha256.js';
import { replaceFileAtomically } from '../auth/atomic-file.js';
import { serialize, type AuthRecord, type Loaded } from '../auth/store.js';

const TEMP_PREFIX = '.follower-mirror-';
/** Two hex digests and their line breaks; anything larger is not ours. */
const MAX_NOTE_BYTES = 1024;

function digest(record: AuthRecord): string {
  return sha256Hex(serialize(record));
}

export class MirrorNote {
  readonly file: string;
  /** Digests of the logins this follower wrote, newest first. */
  private written: string[] = [];

  constructor(codexHome: string) {
    this.file = join(codexHome, 'codexd', 'follower-mirror');
  }

  /** Reads the note an earlier run left (a missing, odd or unreadable note counts as none), and removes temp files a killed write left. */
  async load(): Promise<void> {
    for (const name of this.entries()) if (name.startsWith(TEMP_PREFIX)) rmSync(join(dirname(this.file), name), { force: true });
    const text = await readSmall(this.file);
    this.written = text === null ? [] : text.split('\n').filter((line) => /^[0-9a-f]{64}$/.test(line)).slice(0, 2);
  }

  /** What kind of login of its own `loaded` is ("a ChatGPT login with a refresh token"), or null for a mirror or no login. */
  ownLoginIn(loaded: Loaded): string | null {
    if (loaded.kind !== 'ok') return null;
    const { record } = loaded;
    if (record.auth_mode === 'chatgpt') return record.tokens?.refresh_token === FOLLOWER_REFRESH_TOKEN ? null : 'a ChatGPT login with a refresh token';
    return this.written.includes(digest(record)) ? null : 'an API-key login';
  }

  /**
   * Notes `record` before it is written. Returns why the note could not be saved, or null: the write
   * goes ahead all the same (in keyring mode a read-only home must not stop the mirror), and this
   * run still knows what it wrote.
   */
  async writing(record: AuthRecord): Promise<string | null> {
    const written = digest(record);
    this.written = [written, ...this.written.filter((line) => line !== written)].slice(0, 2);
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      await replaceFileAtomically(this.file, `${this.written.join('\n')}\n`, TEMP_PREFIX);
      return null;
    } catch (error) {
      return `could not note the login this follower writes in ${this.file} (${(error as Error).message}); after a restart, an API-key login there is taken for one of this machine's own`;
    }
  }

  private entries(): string[] {
    try {
      return readdirSync(dirname(this.file));
    } catch {
      return [];
    }
  }
}

/** A small regular file's text, or null when it is missing, not a regular file, too large or unreadable; never waits on a FIFO. */
async function readSmall(file: string): Promise<string | null> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch(() => null);
  if (!handle) return null;
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > MAX_NOTE_BYTES) return null;
    const buffer = Buffer.alloc(MAX_NOTE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return bytesRead > MAX_NOTE_BYTES ? null : buffer.subarray(0, bytesRead).toString('utf8');
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}
