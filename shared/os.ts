// The two system calls Node core lacks: flock(2), which Codex CLI uses on auth.lock and
// auth.json.lock (LockFileEx on Windows, shared/win32.ts), and the peer's uid on a Unix socket
// (SO_PEERCRED / getpeereid), which ssh-agent checks on every accept. Both go through koffi, an
// FFI whose prebuilt binaries ship inside its npm packages; nothing is compiled or downloaded at
// install.
import { closeSync, constants, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { tryLockFile } from './win32.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

interface Libc {
  flock(fd: number, operation: number): number;
  peerUid(fd: number): number | null;
}

let libc: Libc | null | undefined;

/** Loaded on first use, so clients that never lock pay nothing for the FFI. */
function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  if (process.platform === 'linux') {
    const lib = koffi.load('libc.so.6');
    const flock = lib.func('int flock(int fd, int operation)');
    koffi.struct('ucred', { pid: 'int32', uid: 'uint32', gid: 'uint32' });
    const getsockopt = lib.func('int getsockopt(int fd, int level, int name, _Out_ ucred *value, _Inout_ uint32 *length)');
    libc = {
      flock: (fd, op) => flock(fd, op) as number,
      peerUid: (fd) => {
        const cred: { uid?: number } = {};
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, [12]) === 0 && cred.uid !== undefined ? cred.uid : null;
      },
    };
  } else if (process.platform === 'darwin') {
    const lib = koffi.load('libSystem.B.dylib');
    const flock = lib.func('int flock(int fd, int operation)');
    const getpeereid = lib.func('int getpeereid(int fd, _Out_ uint32 *uid, _Out_ uint32 *gid)');
    libc = {
      flock: (fd, op) => flock(fd, op) as number,
      peerUid: (fd) => {
        const uid = [0];
        return getpeereid(fd, uid, [0]) === 0 ? uid[0]! : null;
      },
    };
  }
  return libc;
}

export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';
}

export interface HeldLock {
  readonly path: string;
  /** The locked file's descriptor, open for writing. */
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
  tryLock: (fd) => {
    const lib = loadLibc();
    return !lib || lib.flock(fd, LOCK_EX | LOCK_NB) === 0;
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
 * rewritten through its fd.
 */
function openLockFile(path: string): number {
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`the lock file ${path} is a symbolic link (ELOOP); refusing to follow it (remove the link)`);
    throw error;
  }
}

/** Takes an exclusive flock on `path` (created 0600 if missing) without waiting; null when another holder has it. */
export function tryLock(path: string): HeldLock | null {
  const fd = openLockFile(path);
  if (!locker.tryLock(fd, path)) {
    closeSync(fd);
    return null;
  }
  return heldLock(path, fd);
}

const POLL_MS = 10;

/**
 * Waits for an exclusive flock on `path`. Polls with LOCK_NB rather than blocking, because a
 * blocking flock would stall the event loop and every other client with it.
 */
export async function lock(path: string, timeoutMs: number): Promise<HeldLock> {
  const fd = openLockFile(path);
  const deadline = Date.now() + timeoutMs;
  while (!locker.tryLock(fd, path)) {
    if (Date.now() >= deadline) {
      closeSync(fd);
      throw new LockTimeoutError(`timed out after ${timeoutMs} ms waiting for the lock on ${path}`);
    }
    await sleep(POLL_MS);
  }
  return heldLock(path, fd);
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
