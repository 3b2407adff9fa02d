// The listening socket: where it lives, who may reach it, and that only one daemon owns it.
// The 0700 folder is the first wall (as in ssh-agent and git's credential-cache); the 0600
// socket (bound under umask 077) and the peer-uid check on every accept are the second.
import { lstatSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:net';
import { dirname } from 'node:path';
import { isRecord } from '../../shared/framing.js';
import { tryLock } from '../../shared/os.js';
import { isWindowsPipe, maxSocketPathBytes, socketLockPath } from '../../shared/paths.js';
import { Requests } from '../../shared/protocol.js';
import { RpcClient } from '../../shared/rpc-client.js';
import { netConnect } from '../../shared/unix-socket.js';
import { createSocketFolder, fileKind } from '../../shared/trust.js';
import { pipeServer, restrictPipeToUser } from '../../shared/win32.js';

const LISTEN_BACKLOG = 4096;

/** Which of the daemon's two sockets: the settings that choose its path, for messages. */
export type SocketRole = 'main' | 'restricted';
const CHOSEN_BY: Record<SocketRole, string> = {
  main: '--socket or CODEXD_SOCKET',
  restricted: 'CODEXD_RESTRICTED_SOCKET (or set it to off)',
};

export class StartupError extends Error {
  override name = 'StartupError';
  constructor(
    message: string,
    /** 2 for a socket path that cannot be used as given (as for a usage error). */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Node would silently truncate a longer path and bind somewhere else. */
export function checkSocketPathLength(socketPath: string, role: SocketRole = 'main'): void {
  if (isWindowsPipe(socketPath)) return;
  const bytes = Buffer.byteLength(socketPath);
  const max = maxSocketPathBytes();
  if (bytes > max) {
    throw new StartupError(`socket path is ${bytes} bytes, longer than this platform's limit of ${max}: ${socketPath} (set a shorter one with ${CHOSEN_BY[role]})`);
  }
}

/**
 * Creates the socket's own folder 0700 (never missing parents above it), then refuses a folder
 * that is not ours or is open to others, whoever created it.
 */
export function prepareSocketDir(socketPath: string, role: SocketRole = 'main'): void {
  if (isWindowsPipe(socketPath)) return;
  prepareFolderOf(socketPath, 'socket folder', `choose another ${CHOSEN_BY[role]}`, 2);
}

/** The checks of prepareSocketDir, for the folder of any file that must be the user's alone. */
export function prepareFolderOf(path: string, what: string, alternative: string, exitCode: number): void {
  const dir = dirname(path);
  try {
    createSocketFolder(path);
  } catch (error) {
    throw new StartupError(`${(error as Error).message} (${alternative})`, exitCode);
  }
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory()) throw new StartupError(`${what} ${dir} is not a directory (a symlink?); refusing to use it`);
  // Windows has no modes: the folder (under %LOCALAPPDATA%) inherits the ACL of the user's profile.
  if (process.platform === 'win32') return;
  if (uid !== undefined && stat.uid !== uid) {
    throw new StartupError(`${what} ${dir} is owned by uid ${stat.uid}, not by you (uid ${uid}); refusing to use it`);
  }
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new StartupError(`${what} ${dir} has mode ${mode}, open to other users; run \`chmod 700 ${dir}\` or ${alternative}`);
  }
}

export interface RunningDaemon {
  pid: number | null;
  socket: string;
}

/**
 * Asks whatever answers on `socketPath` for its pid. 'stale' = a socket file nobody listens on.
 * No trust check: the daemon probes a path in the folder it has just checked as its own.
 */
export async function probe(socketPath: string, timeoutMs = 2000): Promise<RunningDaemon | 'stale' | 'absent'> {
  const unknown: RunningDaemon = { pid: null, socket: socketPath };
  let connection: RpcClient;
  try {
    connection = new RpcClient(await netConnect(socketPath), `the codexd on ${socketPath}`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ECONNREFUSED' ? 'stale' : code === 'ENOENT' ? 'absent' : unknown;
  }
  try {
    const status = await connection.request(Requests.daemonStatus, {}, timeoutMs);
    return { pid: isRecord(status) && Number.isSafeInteger(status.pid) && status.pid > 0 ? status.pid : null, socket: socketPath };
  } catch {
    // A restricted socket refuses daemon/status, and something that does not answer still listens.
    return unknown;
  } finally {
    connection.close();
  }
}

export function describeRunning(running: RunningDaemon): string {
  return `codexd is already running (pid ${running.pid ?? 'unknown'}, socket ${running.socket})`;
}

/**
 * Binds `server` at `socketPath`, replacing a stale socket file but never a live daemon's.
 * Returns the socket's identity, so that at exit we unlink it only if it is still ours.
 */
export async function bindSocket(server: Server, socketPath: string, role: SocketRole = 'main'): Promise<{ ino: number } | null> {
  if (!isWindowsPipe(socketPath)) {
    refuseNonSocket(socketPath, role);
    // Serializes daemons starting on the same socket, so probe-then-unlink cannot race.
    const bindLock = tryLock(socketLockPath(socketPath, 'bind'));
    if (!bindLock) throw new StartupError(describeRunning((await probeRunning(socketPath)) ?? { pid: null, socket: socketPath }));
    try {
      // Under the bind lock nothing at the path means nobody listens there: no connect to find out.
      const found = nothingAt(socketPath) ? 'absent' : await probe(socketPath);
      if (found === 'stale') {
        // A regular file refuses connections too: unlink only what is still a socket.
        if (refuseNonSocket(socketPath, role)) unlinkSync(socketPath);
      } else if (found !== 'absent') throw new StartupError(describeRunning(found));
      await listen(server, socketPath);
    } finally {
      bindLock.release();
    }
    return { ino: inodeOf(socketPath) };
  }
  await bindPipe(server, socketPath);
  return null;
}

/**
 * Listens on the named pipe `pipe`, then lets only this user (and SYSTEM) open it. Wine lets a
 * second listen on a pipe that is served succeed where Windows refuses it, and either way the
 * error must say who serves it: so connect first, under the bind lock, as for a Unix socket.
 */
async function bindPipe(server: Server, pipe: string): Promise<void> {
  const bindLock = tryLock(socketLockPath(pipe, 'bind'));
  if (!bindLock) throw new StartupError(describeRunning((await probeRunning(pipe)) ?? { pid: null, socket: pipe }));
  try {
    const found = await probe(pipe);
    if (typeof found === 'object') throw new StartupError(found.pid !== null ? describeRunning(found) : describePipeServer(pipe));
    await listen(server, pipe);
  } finally {
    bindLock.release();
  }
  try {
    restrictPipeToUser(pipe);
  } catch (error) {
    server.close();
    throw new StartupError(`cannot restrict the pipe ${pipe} to your user: ${(error as Error).message}`);
  }
}

/** The pipe is served by a process that does not answer as codexd does. */
function describePipeServer(pipe: string): string {
  let who = 'another process';
  try {
    who = `another process (pid ${pipeServer(pipe).pid})`;
  } catch {
    // It may have just gone; the name was taken when we asked.
  }
  return `the pipe ${pipe} is already served by ${who}, not by codexd; stop it, or choose another --socket or CODEXD_SOCKET`;
}

/** Throws (exit status 2) when something other than a socket is at `socketPath`; true when a socket is. */
function refuseNonSocket(socketPath: string, role: SocketRole): boolean {
  let stat;
  try {
    stat = lstatSync(socketPath);
  } catch {
    return false;
  }
  if (stat.isSocket()) return true;
  throw new StartupError(`${socketPath} is ${fileKind(stat)}, not a socket; refusing to replace it (choose another ${CHOSEN_BY[role]})`, 2);
}

/** Whether there is nothing at all at `path` (not even a dangling link). */
function nothingAt(path: string): boolean {
  try {
    lstatSync(path);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

async function probeRunning(socketPath: string): Promise<RunningDaemon | null> {
  const found = await probe(socketPath);
  return typeof found === 'object' ? found : null;
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(new StartupError(`cannot listen on ${path}: ${error.message}`));
    };
    server.once('error', onError);
    // Node binds synchronously inside listen(): a socket gets 0777 & ~umask, so 0177 makes it 0600.
    const previous = process.umask(0o177);
    try {
      // Node's default backlog (511) makes a burst of connects fail with EAGAIN, which clients take
      // for "not running"; the kernel clamps this to net.core.somaxconn.
      server.listen({ path, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
}

/** -1 when the file is already gone (removed the moment it was bound): no socket file matches it. */
function inodeOf(path: string): number {
  try {
    return lstatSync(path).ino;
  } catch {
    return -1;
  }
}

/** Whether the socket file is still the one we bound (a newer daemon may own the path now). */
export function socketIsOurs(socketPath: string, identity: { ino: number }): boolean {
  try {
    return lstatSync(socketPath).ino === identity.ino;
  } catch {
    return false;
  }
}

/** Removes the socket file only if it is still the one we bound. */
export function unlinkIfOurs(socketPath: string, identity: { ino: number } | null): void {
  if (!identity || !socketIsOurs(socketPath, identity)) return;
  try {
    unlinkSync(socketPath);
  } catch {
    // Already gone.
  }
}

/** The fds systemd passed: the main socket's, and the restricted one's when codexd-restricted.socket is enabled. */
export type SocketActivation = { kind: 'systemd'; main: number; restricted: number | null } | { kind: 'none' };

/** sd_listen_fds: passed fds start at 3. */
const SD_LISTEN_FDS_START = 3;
/** FileDescriptorName= of codexd.socket and codexd-restricted.socket. */
const FD_NAMES: Record<SocketRole, string> = { main: 'codexd', restricted: 'codexd-restricted' };

/**
 * systemd socket activation (sd_listen_fds): serve on the passed fds when LISTEN_PID is us; one
 * (the main socket) or two, told apart by LISTEN_FDNAMES. A half-right environment is an error,
 * never a silent second bind.
 */
export function readActivation(env: NodeJS.ProcessEnv = process.env): SocketActivation {
  const pid = env['LISTEN_PID'];
  const fds = env['LISTEN_FDS'];
  if (pid === undefined && fds === undefined) return { kind: 'none' };
  const names = env['LISTEN_FDNAMES'];
  for (const name of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) delete env[name];
  if (pid !== String(process.pid)) {
    throw new StartupError(`socket activation: LISTEN_PID is ${pid ?? 'unset'}, but this process is ${process.pid}; the sockets were meant for another process`);
  }
  if (fds !== '1' && fds !== '2') {
    throw new StartupError(`socket activation: LISTEN_FDS is ${fds ?? 'unset'}; codexd serves one socket, or two with the restricted one (codexd.socket and codexd-restricted.socket)`);
  }
  // One unnamed fd is the main socket (systemd-socket-activate without --fdname).
  const given = names === undefined && fds === '1' ? [FD_NAMES.main] : (names ?? '').split(':');
  const expected = `"${FD_NAMES.main}"${fds === '2' ? ` and "${FD_NAMES.restricted}"` : ''}`;
  const main = given.indexOf(FD_NAMES.main);
  const restricted = fds === '2' ? given.indexOf(FD_NAMES.restricted) : -1;
  if (given.length !== Number(fds) || main < 0 || (fds === '2' && restricted < 0)) {
    throw new StartupError(`socket activation: the passed sockets are named "${names ?? ''}", expected ${expected} (FileDescriptorName= in codexd.socket and codexd-restricted.socket)`);
  }
  return { kind: 'systemd', main: SD_LISTEN_FDS_START + main, restricted: restricted < 0 ? null : SD_LISTEN_FDS_START + restricted };
}

export function listenOnActivatedFd(server: Server, fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new StartupError(`socket activation: cannot serve on fd ${fd}: ${error.message}`)));
    server.listen({ fd }, () => resolve());
  });
}
