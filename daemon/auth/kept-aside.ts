// A file codexd cannot use is never silently lost: before it is replaced it is kept aside as
// `<file>.corrupt-<time>`. A writer that meets such a file again and again (a tool that keeps
// writing junk, a hostile upstream) must not fill the disk with copies, so only the newest
// `COPIES_KEPT` stay beside each file, the oldest removed first.
import { lstat, readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const COPIES_KEPT = 3;

/** Where `file`, unusable, is kept aside now. The time in the name sorts as it happened. */
export function asideName(file: string): string {
  return `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}

/**
 * Removes all but the newest `COPIES_KEPT` copies of `file` kept aside. Only regular files and
 * symlinks go: a folder or a FIFO moved aside stays for its owner to look at. Returns what was
 * removed; a copy that cannot be removed stays, for the next call to try again. Never throws.
 */
export async function pruneCopiesAside(file: string): Promise<string[]> {
  const prefix = `${basename(file)}.corrupt-`;
  const dir = dirname(file);
  const names = await readdir(dir).catch(() => [] as string[]);
  const copies = names.filter((name) => name.startsWith(prefix)).sort();
  const removed: string[] = [];
  for (const name of copies.slice(0, Math.max(0, copies.length - COPIES_KEPT))) {
    const path = join(dir, name);
    try {
      const stat = await lstat(path);
      if (!stat.isFile() && !stat.isSymbolicLink()) continue;
      await unlink(path);
      removed.push(path);
    } catch {
      // Gone already, or not ours to remove: it stays.
    }
  }
  return removed;
}
