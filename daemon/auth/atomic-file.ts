// How codexd replaces a file it owns, as Codex writes auth.json: a 0600 temp file created with
// O_EXCL in the same folder, written, fsynced and renamed over the target. A kill at any moment
// leaves either the old file or the new one, never a mix; only a stray temp file, which the
// owner removes at its next start.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Writes `contents` to `file` atomically through a temp file `<tempPrefix>XXXXXX` beside it. */
export async function replaceFileAtomically(file: string, contents: string, tempPrefix: string): Promise<void> {
  const temp = join(dirname(file), tempPrefix + randomSuffix());
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    try {
      await handle.writeFile(contents, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await renameOver(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** How long a rename on Windows waits for a reader that opened the target without FILE_SHARE_DELETE. */
const WINDOWS_RENAME_WAIT_MS = 5000;
const WINDOWS_RENAME_RETRY_MS = 50;

/**
 * rename(2), which on Windows is MoveFileEx with MOVEFILE_REPLACE_EXISTING (as Codex's persist of
 * its temp file): it fails with EPERM/EACCES/EBUSY while another process has the target open
 * without FILE_SHARE_DELETE (Node and Rust open files with it; an editor or a virus scanner may
 * not). That is a passing state: retry until the reader lets go, as npm's graceful-fs does.
 */
async function renameOver(from: string, to: string): Promise<void> {
  const deadline = Date.now() + WINDOWS_RENAME_WAIT_MS;
  for (;;) {
    try {
      return await rename(from, to);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const passing = process.platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY');
      if (!passing || Date.now() >= deadline) throw error;
      await sleep(WINDOWS_RENAME_RETRY_MS);
    }
  }
}

/** Makes a rename or an unlink in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    await handle.close();
  }
}

/** Six characters of [A-Za-z0-9], as in Codex's `.auth-XXXXXX`. */
function randomSuffix(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(6), (byte) => alphabet[byte % alphabet.length]).join('');
}
