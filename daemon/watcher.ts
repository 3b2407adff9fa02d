// Notices when someone else (Codex CLI, an editor, a person) changes auth.json. A watch on the
// folder sees atomic renames that a watch on the file would lose; a cheap stat poll covers the
// file systems and races where watches miss events.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

const POLL_MS = 1000;

export class FileWatcher {
  private watcher: FSWatcher | undefined;
  private readonly poll: NodeJS.Timeout;
  private lastSeen = '';
  private pending: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly onChange: () => void,
  ) {
    const name = basename(file);
    try {
      this.watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
        if (changed === null || changed === name) this.debounce();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = undefined; // the poll still runs
    }
    this.lastSeen = this.fingerprint();
    this.poll = setInterval(() => this.check(), POLL_MS);
    this.poll.unref();
  }

  close(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.pending);
  }

  /** A rename shows up as several events; act once they settle. */
  private debounce(): void {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.onChange(), 20);
    this.pending.unref();
  }

  private check(): void {
    const seen = this.fingerprint();
    if (seen !== this.lastSeen) {
      this.lastSeen = seen;
      this.onChange();
    }
  }

  /** Synchronous on purpose: one local stat a second is cheaper than a hop through libuv's thread pool. */
  private fingerprint(): string {
    try {
      const s = statSync(this.file, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch {
      return 'absent';
    }
  }
}
