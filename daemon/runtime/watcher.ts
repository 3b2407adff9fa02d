// Notices when a file changes under the daemon: someone else (Codex CLI, an editor, a person)
// editing auth.json, or the daemon's socket file being removed or replaced. A watch on the file's
// folder (inotify through fs.watch) sees atomic renames, in-place writes and deletions as they
// happen, without waking the daemon otherwise. While the folder is missing, its nearest existing
// ancestor is watched until it appears. A poll covers what watches miss: once a second where they
// are unreliable (no watch could be set up, network and FUSE file systems, which never hear of
// another machine's changes, and systems other than Linux, where we cannot tell those apart), and
// every 30 s elsewhere, as a safety net.
import { statfsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

const FAST_POLL_MS = 1000;
const SLOW_POLL_MS = 30_000;
/** A rename shows up as several events; act once they settle. */
const SETTLE_MS = 20;

/** statfs `f_type` of the file systems where inotify misses changes (linux/magic.h). */
const UNWATCHABLE = new Set([
  0x6969, // NFS
  0x517b, // SMB
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x65735546, // FUSE (sshfs, rclone, ...)
  0x01021997, // 9p (WSL's Windows drives, VM shares)
  0x00c36400, // Ceph
  0x5346414f, // AFS
  0x6b414653, // kAFS
  0x0bd00bd0, // Lustre
]);

/** A folder on the way to the file: the file's own, or the nearest ancestor that exists. */
interface Place {
  folder: string;
  /** The folder's inode, so a folder deleted and created again counts as a new place. */
  ino: bigint;
  /** The name in `folder` that leads to the file (the file's own name in the file's folder). */
  next: string;
}

function nearestPlace(file: string): Place {
  let next = basename(file);
  for (let folder = dirname(file); ; folder = dirname(folder)) {
    const ino = folderInode(folder);
    if (ino !== null || dirname(folder) === folder) return { folder, ino: ino ?? -1n, next };
    next = basename(folder);
  }
}

function folderInode(path: string): bigint | null {
  try {
    const stat = statSync(path, { bigint: true });
    return stat.isDirectory() ? stat.ino : null;
  } catch {
    return null; // missing, or in the way (a file, a folder we may not search)
  }
}

function watchesAreReliable(folder: string): boolean {
  if (process.platform !== 'linux') return false;
  try {
    return !UNWATCHABLE.has(statfsSync(folder).type);
  } catch {
    return false;
  }
}

export class FileWatcher {
  private watcher: FSWatcher | null = null;
  private place: Place | null = null;
  private poll: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private lastSeen: string;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly onChange: () => void,
  ) {
    this.follow();
    this.lastSeen = this.fingerprint();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.pending);
  }

  /** Moves the watch to the nearest existing folder on the way to the file, until it stays put. */
  private follow(): void {
    for (let place = nearestPlace(this.file); !this.isWatching(place); place = nearestPlace(this.file)) this.watchFolder(place);
  }

  private isWatching(place: Place): boolean {
    return this.place !== null && this.place.folder === place.folder && this.place.ino === place.ino;
  }

  private watchFolder(place: Place): void {
    this.watcher?.close();
    this.watcher = null;
    this.place = place;
    try {
      const watcher = watch(place.folder, { persistent: false }, (_event, name) => {
        // The name on the way to the file, or the watched folder's own when it was deleted or moved.
        if (name === null || name === place.next || name === basename(place.folder)) this.settle();
      });
      watcher.on('error', () => {
        watcher.close();
        if (this.watcher !== watcher) return;
        this.watcher = null;
        this.place = null; // set up again at the next check
        this.setPoll(FAST_POLL_MS);
      });
      this.watcher = watcher;
    } catch {
      // No watch (the inotify limit, a folder we may not read): the poll does it all.
    }
    this.setPoll(this.watcher && watchesAreReliable(place.folder) ? SLOW_POLL_MS : FAST_POLL_MS);
  }

  private setPoll(ms: number): void {
    clearInterval(this.poll);
    this.poll = setInterval(() => this.check(false), ms);
    this.poll.unref();
  }

  private settle(): void {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.check(true), SETTLE_MS);
    this.pending.unref();
  }

  /** An event always counts as a change; the poll counts one when the file's fingerprint differs. */
  private check(event: boolean): void {
    if (this.closed) return;
    this.follow();
    const seen = this.fingerprint();
    if (!event && seen === this.lastSeen) return;
    this.lastSeen = seen;
    this.onChange();
  }

  /** Synchronous on purpose: one local stat is cheaper than a hop through libuv's thread pool. */
  private fingerprint(): string {
    try {
      const s = statSync(this.file, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch {
      return 'absent';
    }
  }
}
