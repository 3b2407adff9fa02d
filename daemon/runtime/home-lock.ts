// One daemon per CODEX_HOME (README, "Security model"): two flocks held for the daemon's life,
// each file naming its holder so that a second daemon can say which one runs. One lives in the
// runtime folder (`codexd-<key>.lock`, shared/paths.ts daemonLockPath), which can always be
// written; one lives with the home (`$CODEX_HOME/codexd/daemon.lock`), so that daemons whose
// runtime folders differ (cron, su and ssh set XDG_RUNTIME_DIR differently, or not at all) still
// meet. On a read-only home the home's lock file is locked through a read-only descriptor (flock
// needs no write access); a read-only home that never held one is guarded by the runtime folder's
// lock alone, and the daemon says so in its log.
import { ftruncateSync, mkdirSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { readTextSync } from '../../shared/bounded-read.js';
import { tryLock, type HeldLock } from '../../shared/os.js';
import { homeLockPath } from '../../shared/paths.js';
import { prepareFolderOf, StartupError, type RunningDaemon } from './socket.js';

/** Why a file cannot be created or written here because of the mount or the folder's mode. */
const NOT_WRITABLE = new Set(['EROFS', 'EACCES', 'EPERM']);

export interface CodexHomeLock {
  release(): void;
  /** Why the lock with the home could not be taken (a read-only home without one), for the log; else null. */
  readonly warning: string | null;
}

export function lockCodexHome(codexHome: string, socketPath: string, runtimeLockPath: string): CodexHomeLock {
  prepareFolderOf(runtimeLockPath, 'runtime folder', 'set XDG_RUNTIME_DIR to a private folder', 1);
  const runtime = take(codexHome, socketPath, runtimeLockPath, () => {
    const held = tryLock(runtimeLockPath);
    return held ? { held, writable: true } : 'held';
  })!;
  let withHome: HeldLock | null;
  try {
    withHome = take(codexHome, socketPath, homeLockPath(codexHome), () => lockWithHome(codexHome));
  } catch (error) {
    runtime.release();
    throw error;
  }
  return {
    release() {
      withHome?.release();
      runtime.release();
    },
    warning: withHome
      ? null
      : `CODEX_HOME ${codexHome} is read-only and holds no ${homeLockPath(codexHome)} yet: only daemons started with this runtime folder (${dirname(runtimeLockPath)}) are kept from serving it too`,
  };
}

/** A lock taken, and whether its file can be written (to name the holder). */
type Taken = { held: HeldLock; writable: boolean };

/** Takes one lock with `attempt`; when another daemon holds it, fails naming that daemon. */
function take(codexHome: string, socketPath: string, path: string, attempt: () => Taken | null | 'held'): HeldLock | null {
  let taken: Taken | null | 'held';
  try {
    taken = attempt();
  } catch (error) {
    throw new StartupError(`cannot take the daemon lock for ${codexHome}: ${(error as Error).message}`);
  }
  if (taken === 'held') throw new StartupError(describeHolder(codexHome, socketPath, path));
  // Through the locked fd: the path could have been replaced since it was opened.
  if (taken?.writable) {
    ftruncateSync(taken.held.fd, 0);
    writeSync(taken.held.fd, JSON.stringify({ pid: process.pid, socket: socketPath }), 0);
  }
  return taken?.held ?? null;
}

/** The lock with the home: created when the home is writable, locked read-only when it is not; null when there is none to lock. */
function lockWithHome(codexHome: string): Taken | null | 'held' {
  const path = homeLockPath(codexHome);
  try {
    mkdirSync(dirname(path), { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code !== 'EEXIST' && !NOT_WRITABLE.has(code)) throw error;
  }
  try {
    const held = tryLock(path);
    return held ? { held, writable: true } : 'held';
  } catch (error) {
    // ENOENT: the folder could not be made (the mkdir above met a read-only home).
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code !== 'ENOENT' && !NOT_WRITABLE.has(code)) throw error;
  }
  try {
    const held = tryLock(path, true);
    return held ? { held, writable: false } : 'held';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function describeHolder(codexHome: string, socketPath: string, lockPath: string): string {
  let holder: Partial<RunningDaemon> = {};
  try {
    holder = JSON.parse(readTextSync(lockPath, { maxBytes: 4096 }) ?? '{}') as RunningDaemon;
  } catch {
    // The holder may be mid-write; report what we know.
  }
  // On a read-only home the file still names the daemon that last wrote it, which may be gone.
  const known = Number.isSafeInteger(holder.pid) && isAlive(holder.pid!);
  const socket = known && typeof holder.socket === 'string' ? holder.socket : 'unknown';
  const pid = known ? holder.pid : 'unknown';
  const reach = socket !== 'unknown' && socket !== socketPath ? `; to use it, pass --socket ${socket} or set CODEXD_SOCKET=${socket}` : '';
  return `another codexd already manages ${codexHome} (pid ${pid}, socket ${socket})${reach}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
