// The C library calls Node core lacks: flock(2), which Codex CLI uses on auth.lock and
// auth.json.lock (LockFileEx on Windows, shared/win32.ts); the peer's uid on a Unix socket
// (SO_PEERCRED / getpeereid), which ssh-agent checks on every accept; and glibc's malloc_trim,
// with which an idle daemon gives its free heap back (daemon/runtime/idle-trim.ts). All go
// through koffi, an FFI whose prebuilt binaries ship inside its npm packages; nothing is compiled
// or downloaded at install.
import { closeSync, constants, openSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadKoffi, type Koffi } from './koffi.js';
import { tryLockFile } from './win32.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

interface Libc {
  /** 0, or -1 with the errno: EWOULDBLOCK when another holder has the lock. */
  flock(fd: number, operation: number): number;
  errno(): number;
  EWOULDBLOCK: number;
  peerUid(fd: number): number | null;
  /** glibc's malloc_trim(0); nothing where the C library has none. */
  trimHeap(): void;
}

let libc: Libc | null | undefined;

/** Loaded on first use, so clients that never lock pay nothing for the FFI. */
function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const koffi = loadKoffi();
  if (process.platform === 'linux') {
    const lib = koffi.load('libc.so.6');
    const flock = lib.func('int flock(int fd, int operation)');
    koffi.struct('ucred', { pid: 'int32', uid: 'uint32', gid: 'uint32' });
    const getsockopt = lib.func('int getsockopt(int fd, int level, int name, _Out_ ucred *value, _Inout_ uint32 *length)');
    let mallocTrim: (() => void) | undefined;
    libc = {
      flock: (fd, op) => flock(fd, op) as number,
      errno: () => koffi.errno(),
      EWOULDBLOCK: koffi.os.errno['EWOULDBLOCK']!,
      peerUid: (fd) => {
        const cred: { uid?: number } = {};
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, [12]) === 0 && cred.uid !== undefined ? cred.uid : null;
      },
      // Bound at its first use, which is not start-up's; a libc.so.6 without it (not glibc) is asked once.
      trimHeap: () => (mallocTrim ??= bindMallocTrim(lib))(),
    };
  } else if (process.platform === 'darwin') {
    const lib = koffi.load('libSystem.B.dylib');
    const flock = lib.func('int flock(int fd, int operation)');
    const getpeereid = lib.func('int getpeereid(int fd, _Out_ uint32 *uid, _Out_ uint32 *gid)');
    libc = {
      flock: (fd, op) => flock(fd, op) as number,
      errno: () => koffi.errno(),
      EWOULDBLOCK: koffi.os.errno['EWOULDBLOCK']!,
      peerUid: (fd) => {
        const uid = [0];
        return getpeereid(fd, uid, [0]) === 0 ? uid[0]! : null;
      },
      // macOS gives freed memory back by itself.
      trimHeap: () => undefined,
    };
  }
  return libc;
}

function bindMallocTrim(lib: ReturnType<Koffi['load']>): () => void {
  try {
    const trim = lib.func('int malloc_trim(size_t pad)');
    return () => void trim(0);
  } catch {
    return () => undefined;
  }
}

/** Gives the C heap's free memory back to the system (glibc's malloc_trim(0)); nothing on other systems. */
export function trimHeap(): void {
  loadLibc()?.trimHeap();
}

export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';
}

export interface HeldLock {
  readonly path: string;
  /** The locked file's descriptor, open for writing (for reading only when taken with readOnly). */
  readonly fd: number;
  release(): void;
}

/** How a lock is taken on this platform: flock on the file's fd, or LockFileEx on a handle of its own (Windows). */
interface Locker {
  /** Locks the open file `fd` (at `path`) without waiting; false when another holder has it. */
  tryLock(fd: number, path: string): boolean;
  unlock(fd: number): void;
}

const flockLocker: Locker = {
  // Any failure but EWOULDBLOCK (a file system without flock, such as NFS on a read-only
  // descriptor) is an error, not a lock held by someone else.
  tryLock: (fd) => {
    const lib = loadLibc();
    if (!lib || lib.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = lib.errno();
    if (errno === lib.EWOULDBLOCK) return false;
    throw new Error(`flock failed (errno ${errno}): this file system cannot lock files`);
  },
  unlock: (fd) => void loadLibc()?.flock(fd, LOCK_UN),
};

/**
 * Windows: LockFileEx on a second handle of the same file (Node does not expose a file's HANDLE),
 * kept until unlock; the lock lives and dies with that handle, as Codex's with its File.
 */
function win32Locker(): Locker {
  const held = new Map<number, { release(): void }>();
  return {
    tryLock: (fd, path) => {
      const lock = tryLockFile(path);
      if (lock) held.set(fd, lock);
      return lock !== null;
    },
    unlock: (fd) => {
      held.get(fd)?.release();
      held.delete(fd);
    },
  };
}

const locker: Locker = process.platform === 'win32' ? win32Locker() : flockLocker;

/**
 * Opens a lock file, created 0600 if missing, without following a symlink: a link planted there
 * would have us create or write its target. Codex opens its lock files the same way apart from
 * O_NOFOLLOW, so the flocks still exclude each other. Not O_APPEND, so the daemon lock can be
 * rewritten through its fd. `readOnly`: an existing file, opened for reading only (flock needs
 * no write access), for a folder on a read-only mount.
 */
function openLockFile(path: string, readOnly = false): number {
  const flags = readOnly ? constants.O_RDONLY : constants.O_WRONLY | constants.O_CREAT;
  try {
    // O_NONBLOCK: a FIFO planted there fails to open (ENXIO) instead of waiting for a reader.
    return openSync(path, flags | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0), 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`the lock file ${path} is a symbolic link (ELOOP); refusing to follow it (remove the link)`);
    throw error;
  }
}

/**
 * Takes an exclusive lock on `path` (created 0600 if missing) without waiting; null when another
 * holder has it. `readOnly`: the file must exist, and is locked through a read-only descriptor.
 */
export function tryLock(path: string, readOnly = false): HeldLock | null {
  const fd = openLockFile(path, readOnly);
  if (!lockOrClose(fd, path)) {
    closeSync(fd);
    return null;
  }
  return heldLock(path, fd);
}

/** locker.tryLock, closing `fd` when it fails with an error rather than a held lock. */
function lockOrClose(fd: number, path: string): boolean {
  try {
    return locker.tryLock(fd, path);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

const POLL_MS = 10;

/**
 * Waits for an exclusive flock on `path`. Polls with LOCK_NB rather than blocking, because a
 * blocking flock would stall the event loop and every other client with it.
 */
export async function lock(path: string, timeoutMs: number): Promise<HeldLock> {
  const fd = openLockFile(path);
  const deadline = Date.now() + timeoutMs;
  while (!lockOrClose(fd, path)) {
    if (Date.now() >= deadline) {
      closeSync(fd);
      throw new LockTimeoutError(`timed out after ${timeoutMs} ms waiting for the lock on ${path}`);
    }
    await sleep(POLL_MS);
  }
  return heldLock(path, fd);
}

/**
 * Runs `work` holding the flock on `path`, waited for up to `timeoutMs`. On a read-only file system
 * nobody can write what the lock guards, so there is no writer to keep out: `work` runs without it.
 */
export async function withLock<T>(path: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  let held: HeldLock | null = null;
  try {
    held = await lock(path, timeoutMs);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EROFS') throw error;
  }
  try {
    return await work();
  } finally {
    held?.release();
  }
}

function heldLock(path: string, fd: number): HeldLock {
  let held = true;
  return {
    path,
    fd,
    release() {
      if (!held) return;
      held = false;
      locker.unlock(fd);
      closeSync(fd);
    },
  };
}

/**
 * The uid of the process at the other end of a Unix socket, or undefined where the platform
 * offers no way to ask (Windows). Uses the socket's file descriptor, which Node keeps on
 * an internal handle.
 */
export function peerUid(socket: Socket): number | null | undefined {
  const lib = loadLibc();
  if (!lib) return undefined;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  return lib.peerUid(fd);
}
